"""A worker: each queue message arrives as a POST from the worker daemon (sqsd). It is kept
with the headers the daemon sent, so that `GET /received` shows what this instance took.
A message whose JSON says `"fail": true` is refused (500), so the daemon lets it come back;
`"sleep": N` makes the first attempt slow (N seconds). cron.yaml's task POSTs to /tasks/tick."""

import json
import os
import threading
import time

from flask import Flask, jsonify, request

application = Flask(__name__)
RECEIVED = os.environ.get("RECEIVED_LOG", "/tmp/worker-app/received.jsonl")
lock = threading.Lock()


def keep(kind, body):
    entry = {
        "kind": kind,
        "pid": os.getpid(),
        "at": time.time(),
        "body": body,
        "headers": {k: v for k, v in request.headers.items() if k.lower().startswith("x-aws-sqsd") or k in ("User-Agent", "Content-Type")},
    }
    os.makedirs(os.path.dirname(RECEIVED), exist_ok=True)
    with lock, open(RECEIVED, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


@application.post("/")
def work():
    text = request.get_data(as_text=True)
    try:
        message = json.loads(text)
    except ValueError:
        message = {"text": text}
    if not isinstance(message, dict):
        message = {"value": message}
    if message.get("sleep") and request.headers.get("X-Aws-Sqsd-Receive-Count") == "1":
        time.sleep(float(message["sleep"]))
    if message.get("fail"):
        keep("refused", message)
        return "refused on purpose", 500
    keep("done", message)
    return "", 200


@application.post("/tasks/tick")
def tick():
    keep("task", request.get_data(as_text=True))
    return "", 200


@application.get("/received")
def received():
    try:
        with open(RECEIVED, encoding="utf-8") as f:
            return jsonify([json.loads(line) for line in f if line.strip()])
    except OSError:
        return jsonify([])
