"""An HTTP reverse proxy for 127.0.0.1 in front of a local moto: it holds every request for a
fixed delay (AWS's per-call latency, for benchmarks) and can inject the faults AWS shows but
moto does not (throttling, refusals), for tests.

    python delay-proxy.py LISTEN_PORT UPSTREAM_PORT DELAY_MS [FAULTS_JSON]

FAULTS_JSON (optional):
    {"throttle": 0.15,                      # fraction of calls answered with a throttling error
     "seed": 7,
     "refuse": [{"action": "CreateAutoScalingGroup", "times": 2,   # -1: always
                 "skip": 0,                 # let this many matching calls through first
                 "status": 400, "code": "ValidationError", "message": "...",
                 "after": "DeregisterTargets"}],  # armed once a call with this ACTION was
                                            # answered (optional; also for "lose")
     "lose": [{"match": "^PUT /[^/]+/pets-app/lock[.]json$",       # a regular expression
               "header": "If-None-Match",   # only requests with this header (optional)
               "times": 1, "skip": 0}],     # the call is made upstream, its answer dropped
     "log": "/path/to/file"}                # one line per request: "ACTION answer"

The faults can be replaced while the proxy runs: `POST /__faults` with a FAULTS_JSON body
(its "refuse" and "lose" rules replace the running ones; "delay_ms" and "log" change when
given; `throttle` stays).

An ACTION is the query API's Action (CreateAutoScalingGroup), or "METHOD /path" for the others
(S3: "PUT /BUCKET/KEY"). A lost answer is the request carried out by moto and the connection
closed without a response: what a client sees when its answer is lost on the way back.

Prints "ready" once listening. Listens and connects only on 127.0.0.1.
"""

import http.client
import http.server
import json
import random
import re
import sys
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "content-length"}


def service_of(headers):
    match = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", headers.get("Authorization", ""))
    return match.group(1) if match else "unknown"


def action_of(method, path, body):
    if body:
        fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if "Action" in fields:
            return fields["Action"][0]
    return f"{method} {urllib.parse.urlparse(path).path}"


def error_body(service, status, code, message):
    if service == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
                f"</Error></Errors><RequestID>injected</RequestID></Response>")
        return body.encode(), "text/xml"
    if service == "ssm":
        return json.dumps({"__type": code, "message": message}).encode(), "application/x-amz-json-1.1"
    if service == "s3":
        body = (f"<Error><Code>{code}</Code><Message>{message}</Message>"
                f"<RequestId>injected</RequestId></Error>")
        return body.encode(), "application/xml"
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>")
    return body.encode(), "text/xml"


def main():
    listen_port, upstream_port, delay_ms = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    faults = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    lock = threading.Lock()
    rng = random.Random(faults.get("seed", 7))
    rules = {}

    def arm(new):
        """Replaces the refusal and loss rules (and forgets which actions were answered)."""
        with lock:
            rules["delay_ms"] = new.get("delay_ms", rules.get("delay_ms", delay_ms))
            rules["log"] = new.get("log", rules.get("log"))
            rules["refuse"] = [dict(r) for r in new.get("refuse", [])]
            rules["lose"] = [dict(r, pattern=re.compile(r["match"])) for r in new.get("lose", [])]
            answered.clear()

    answered = set()

    def take(rule):
        """Whether a matching call is affected now: once armed, after `skip` calls, `times`
        of them."""
        if rule.get("after") and rule["after"] not in answered:
            return False
        if rule.get("skip", 0) > 0:
            rule["skip"] -= 1
            return False
        if rule.get("times", -1) == 0:
            return False
        if rule.get("times", -1) > 0:
            rule["times"] -= 1
        return True

    def loses(action, headers):
        with lock:
            for r in rules["lose"]:
                if r["pattern"].search(action) and (not r.get("header") or r["header"] in headers):
                    if take(r):
                        return True
        return False

    def decide(service, action):
        with lock:
            for r in rules["refuse"]:
                if r["action"] == action and take(r):
                    return r.get("status", 400), r.get("code", "ValidationError"), r.get("message", "refused")
            if rng.random() < faults.get("throttle", 0.0):
                if service == "ec2":
                    return 503, "RequestLimitExceeded", "Request limit exceeded."
                if service == "ssm":
                    return 400, "ThrottlingException", "Rate exceeded"
                if service == "s3":
                    return 503, "SlowDown", "Please reduce your request rate."
                return 400, "Throttling", "Rate exceeded"
        return None

    arm(faults)

    def log(line):
        log_path = rules.get("log")
        if log_path:
            with lock, open(log_path, "a") as f:
                f.write(line + "\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, headers, data):
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.command == "POST" and self.path == "/__faults":
                arm(json.loads(body or b"{}"))
                self.reply(200, [("Content-Type", "text/plain")], b"armed\n")
                return
            time.sleep(rules["delay_ms"] / 1000.0)
            service = service_of(self.headers)
            action = action_of(self.command, self.path, body)
            fault = decide(service, action)
            if fault:
                status, code, message = fault
                data, kind = error_body(service, status, code, message)
                log(f"{action} {code}")
                self.reply(status, [("Content-Type", kind)], data)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            # A fresh upstream connection per request (moto closes each one after its
            # response), and never a second send: a resent request could be applied twice.
            try:
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
            except (http.client.HTTPException, OSError):
                log(f"{action} 502")
                self.send_error(502)
                return
            if loses(action, self.headers):
                log(f"{action} {response.status} lost")
                self.close_connection = True
                return
            log(f"{action} {response.status}")
            with lock:
                answered.add(action)
            self.reply(response.status, response.getheaders(), data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", listen_port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
