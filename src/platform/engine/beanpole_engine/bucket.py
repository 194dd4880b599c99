"""The versions bucket, from the instance: objects fetched and uploaded by the platform's own
signed client (`awsapi`: the instance role's credentials, no AWS CLI process per object),
and the instance's own Auto Scaling group."""

import re
import threading

from . import awsapi
from .runner import tail

_client = None
_lock = threading.Lock()


def client():
    """One client per engine process (its credentials are fetched once and refreshed)."""
    global _client
    with _lock:
        if _client is None:
            _client = awsapi.Client()
        return _client


def _failed(runner, what, url, error, check):
    output = "%s%s" % (error, " (404 Not Found)" if error.not_found else "")
    runner.log("%s: %s" % (what or url, output), "ERROR" if check else "INFO")
    if check:
        from .runner import Failure

        raise Failure("%s failed: %s" % (what or url, error.code or "no answer"), output)
    return 1, output


def fetch(runner, url, local, what=None, check=True):
    """Copies `s3://BUCKET/KEY` to a local file; (0, "") or (1, why)."""
    bucket, key = awsapi.split_s3_url(url)
    runner.log("Fetching %s" % url)
    try:
        client().download(bucket, key, local)
    except awsapi.AwsError as e:
        return _failed(runner, what, url, e, check)
    return 0, ""


def upload(runner, local, url, what=None, check=True):
    bucket, key = awsapi.split_s3_url(url)
    runner.log("Uploading %s" % url)
    try:
        with open(local, "rb") as f:
            client().put_object(bucket, key, f.read())
    except awsapi.AwsError as e:
        return _failed(runner, what, url, e, check)
    except OSError as e:
        return _failed(runner, what, url, awsapi.AwsError("PutObject", 0, "NoFile", str(e)), check)
    return 0, ""


def missing(output):
    """Whether a failed fetch said the object does not exist (rather than that it could not
    read it)."""
    return "404" in output or "Not Found" in output or "NoSuchKey" in output


class Background:
    """An upload under way in a thread (the engine's progress)."""

    def __init__(self, thread):
        self.thread = thread

    def poll(self):
        return None if self.thread.is_alive() else 0

    def wait(self, timeout=None):
        self.thread.join(timeout)
        return self.poll()

    def kill(self):
        """A thread cannot be stopped: the report's wait is the bound."""


def upload_in_background(local, url):
    """Starts an upload of the file as it is now, without waiting for it."""
    try:
        with open(local, "rb") as f:
            body = f.read()
    except OSError:
        return None
    bucket, key = awsapi.split_s3_url(url)

    def run():
        try:
            client().put_object(bucket, key, body)
        except awsapi.AwsError:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return Background(thread)


def own_group(runner, instance_id):
    """The Auto Scaling group that launched this instance, or None when it cannot be told
    (no permission, no region)."""
    code, output = runner.run(
        ["aws", "autoscaling", "describe-auto-scaling-instances", "--instance-ids", instance_id,
         "--query", "AutoScalingInstances[0].AutoScalingGroupName", "--output", "text"],
        check=False,
    )
    group = output.strip()
    if code != 0 or not re.match(r"^[A-Za-z0-9][A-Za-z0-9-]{0,254}$", group) or group == "None":
        return None
    return group


def short(output):
    return tail(output, 5)



