"""The health check after a deployment: the check path, through the proxy, until it answers
as the matcher says, or until the deployment's health threshold (EB's
HealthCheckSuccessThreshold) accepts the instance's rating for three checks in a row. The
rating, as EB's enhanced health names it: Ok for a matching answer, Warning for another answer
below 500, Degraded for a 5xx, Severe for no answer."""

import time
import urllib.error
import urllib.request

from .runner import Failure

LEVELS = ["ok", "warning", "degraded", "severe"]
# Checks in a row at or above the threshold that pass an instance.
IN_A_ROW = 3


def matches(matcher, status):
    """Whether an HTTP status is what a target group's matcher (`200`, `200-399`, `200,302`)
    counts as healthy."""
    for part in matcher.split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            if int(low) <= status <= int(high):
                return True
        elif part and int(part) == status:
            return True
    return False


def level_of(status):
    """The rating of an answer that does not match (None: no answer), as an index of LEVELS."""
    if status is None:
        return 3
    return 2 if status >= 500 else 1


def threshold_index(name):
    return LEVELS.index(name) if name in LEVELS else 0


def in_a_row(within, level, threshold, dead):
    """How many checks in a row the threshold accepts after this one."""
    return within + 1 if threshold > 0 and level <= threshold and not dead else 0


def ask(url):
    """(status, why) of one request: the HTTP status (None without an answer)."""
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "beanpole-engine health check"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, None
    except urllib.error.HTTPError as e:
        return e.code, None
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def check(runner, processes, state, doc):
    """Waits for the instance to pass; a Failure naming why it did not."""
    spec = doc["health_check"]
    url = "http://127.0.0.1:%d%s" % (doc["port"], spec["path"])
    deadline = time.time() + spec["timeout_secs"]
    threshold = threshold_index(spec.get("threshold", "ok"))
    names = processes.names(state)
    last = "no answer"
    within = 0
    while True:
        dead = [name for name in names if not processes.alive(name)]
        looping = [name for name in names if processes.restarts(name) >= 2]
        if looping:
            raise Failure("the %s process keeps exiting (restarted %d times): see its log" % (looping[0], processes.restarts(looping[0])),
                          runner.log_tail("%s.stdout.log" % looping[0]))
        status, why = ask(url)
        if status is None:
            last = why
        elif matches(spec["matcher"], status):
            runner.log("Health check of %s answered %d" % (url, status))
            return
        else:
            last = "HTTP %d" % status
        level = level_of(status)
        within = in_a_row(within, level, threshold, dead)
        if within >= IN_A_ROW:
            runner.warn("Health check of %s answered %s: %s, which the deployment's health threshold %s accepts" % (
                url, last, LEVELS[level].capitalize(), LEVELS[threshold].capitalize()))
            return
        if time.time() > deadline:
            output = runner.log_tail("web.stdout.log")
            if dead:
                raise Failure("the %s process is not running; %s answered: %s" % (", ".join(dead), url, last), output)
            raise Failure("%s answered %s, not %s, for %d s" % (url, last, spec["matcher"], spec["timeout_secs"]), output)
        time.sleep(0.25)
