"""The health check after a deployment, as a load balancer's target group makes it (GET the
check path through the proxy, `User-Agent: ELB-HealthChecker/2.0`, no redirect followed),
until it answers as the matcher says, or until the deployment's health threshold (EB's
HealthCheckSuccessThreshold) accepts the instance's rating for three checks in a row. The
rating, as EB's enhanced health names it: Ok for a matching answer, Warning for another answer
below 500, Degraded for a 5xx, Severe for no answer."""

import http.client
import time

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


def ask(port, path):
    """One request as a load balancer's health check makes it: GET, `User-Agent:
    ELB-HealthChecker/2.0`, no redirect followed. (status, what answered): the status is None
    without an answer, and what answered names it (`301 Moved Permanently, Location: …`)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"User-Agent": "ELB-HealthChecker/2.0", "Connection": "close"})
        response = connection.getresponse()
        response.read()
        answered = "%d %s" % (response.status, response.reason)
        location = response.getheader("Location")
        if location:
            answered += ", Location: %s" % location
        return response.status, answered
    except (http.client.HTTPException, OSError) as e:
        return None, str(e) or e.__class__.__name__
    finally:
        connection.close()


def check(runner, processes, state, doc):
    """Waits for the instance to pass; a Failure naming why it did not. A worker passes when
    its application answers through the proxy at HttpPath (any answer below 500: its POST
    handler need not take a GET) and its daemon has reported in (it could read its queue)."""
    spec = doc["health_check"]
    worker = doc.get("worker")
    if worker:
        spec = dict(spec, path=worker.get("http_path", "/"), matcher="200-499")
    check_http(runner, processes, state, doc, spec)
    if worker and (state or {}).get("daemons"):
        wait_for_daemon(runner, processes, spec["timeout_secs"])


def wait_for_daemon(runner, processes, timeout):
    """Until the running sqsd says it read its queue (its status file)."""
    import json
    import os

    path = os.path.join(processes.paths.state, "sqsd-status.json")
    pid_file = os.path.join(processes.paths.pids, "sqsd.pid")
    deadline = time.time() + timeout
    last = "it has not reported in"
    while time.time() < deadline:
        try:
            with open(path, encoding="utf-8") as f:
                status = json.load(f)
        except (OSError, ValueError):
            status = None
        pid = None
        try:
            with open(pid_file) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            pass
        if status and (pid is None or status.get("pid") == pid):
            if status.get("polling_ok"):
                runner.log("The worker daemon reads queue %s" % status.get("queue"))
                return
            if status.get("last_error"):
                last = status["last_error"]
        if not processes.alive("sqsd"):
            last = "the sqsd process is not running"
        time.sleep(0.25)
    raise Failure("the worker daemon (sqsd) did not report in within %d s: %s" % (timeout, last),
                  runner.log_tail("aws-sqsd/default.log"))


def check_http(runner, processes, state, doc, spec):
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
        status, answered = ask(doc["port"], spec["path"])
        if status is None:
            last = answered
        elif matches(spec["matcher"], status):
            runner.log("Health check of %s answered %s" % (url, answered))
            return
        else:
            last = "answered " + answered
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
            raise Failure("the health check of %s (as a load balancer makes it: no redirect followed) %s; the matcher is %s (for %d s)" % (
                url, last if status is not None else "had no answer: " + last, spec["matcher"], spec["timeout_secs"]), output)
        time.sleep(0.25)
