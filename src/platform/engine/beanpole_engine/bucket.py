"""The versions bucket, from the instance: objects fetched and uploaded with the AWS CLI and
the instance role (on Amazon Linux 2023 the CLI is there; the local fleet puts one, pointed
at its emulator, on the PATH)."""

import subprocess

from .runner import tail


def fetch(runner, url, local, what=None, check=True):
    """Copies `s3://BUCKET/KEY` to a local file; (exit code, output)."""
    return runner.run(["aws", "s3", "cp", "--only-show-errors", url, local], check=check, what=what)


def upload(runner, local, url, what=None, check=True):
    return runner.run(["aws", "s3", "cp", "--only-show-errors", local, url], check=check, what=what)


def missing(output):
    """Whether a failed fetch said the object does not exist (rather than that it could not
    read it)."""
    return "404" in output or "Not Found" in output or "NoSuchKey" in output


def upload_in_background(local, url):
    """Starts an upload without waiting for it (the engine's progress); the process, or None."""
    try:
        return subprocess.Popen(
            ["aws", "s3", "cp", "--only-show-errors", local, url],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None


def own_group(runner, instance_id):
    """The Auto Scaling group that launched this instance, or None when it cannot be told
    (no permission, no region)."""
    import re

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
