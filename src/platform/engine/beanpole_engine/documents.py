"""The deployment document the engine reads and the report it writes (each has its JSON
Schema in src/platform/schema/, checked by the tests of both sides)."""

import json
import os
import time

from . import SCHEMA
from .runner import now_iso


def for_this_machine(doc, environ):
    """The document as this machine runs it: in Beanpole's local fleet and `local run` each
    instance has its own ports on 127.0.0.1 (BEANPOLE_PORT, BEANPOLE_APP_PORT)."""
    doc = dict(doc)
    old_upstream = doc["upstream_port"]
    if environ.get("BEANPOLE_PORT"):
        doc["port"] = int(environ["BEANPOLE_PORT"])
        doc["listen_address"] = "127.0.0.1"
    if environ.get("BEANPOLE_APP_PORT"):
        doc["upstream_port"] = int(environ["BEANPOLE_APP_PORT"])
        doc["default_web_command"] = doc["default_web_command"].replace(
            "127.0.0.1:%d " % old_upstream, "127.0.0.1:%d " % doc["upstream_port"]
        )
    return doc


def new_report(instance, doc, leader):
    """The report of a deployment that starts (a success until a step fails)."""
    return {
        "schema": SCHEMA,
        "instance": instance,
        "application": doc["application"],
        "environment": doc["environment"],
        "deployment_id": doc["deployment_id"],
        "version": doc["version"]["label"],
        "status": "SUCCESS",
        "leader": leader,
        "failed_step": None,
        "message": "",
        "output_tail": "",
        "rolled_back_to": None,
        "steps": [],
        "warnings": [],
        "started": now_iso(),
    }


def failed_fetch_report(instance, leader, message, output, started):
    """The report of a deployment whose document could not be read."""
    return {
        "schema": SCHEMA,
        "instance": instance,
        "status": "FAILURE",
        "failed_step": "FetchDocument",
        "message": message,
        "output_tail": output,
        "steps": [],
        "application": "",
        "environment": "",
        "deployment_id": 0,
        "version": "",
        "rolled_back_to": None,
        "leader": leader,
        "warnings": [],
        "started": now_iso(),
        "finished": now_iso(),
        "engine_seconds": round(time.time() - started, 3),
    }


def step(name, seconds, ok):
    return {"name": name, "seconds": round(seconds, 3), "outcome": "ok" if ok else "failed"}


def progress(instance, deployment_id, step_name, elapsed):
    """Which step runs now (written beside the report while the engine works)."""
    return {"instance": instance, "deployment_id": deployment_id, "step": step_name, "elapsed": round(elapsed, 1)}


def write_json(path, value, mode=0o644):
    """Writes a JSON file whole (a temporary file renamed over it), created with `mode`."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def read_json(path):
    """A JSON file's value, or None when it is missing or not JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
