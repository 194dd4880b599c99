"""The worker daemon, as Elastic Beanstalk's `sqsd` behaves: long-polls the environment's
queue (20 s, up to 10 messages, the VisibilityTimeout on each receive), POSTs each message to
the application through the proxy (http://localhost:80 + HttpPath on an instance) with EB's
X-Aws-Sqsd-* headers, at most HttpConnections at once; deletes a message only when the
application answered 200 (in batches), and otherwise (another status, no connection within
ConnectTimeout, no answer within InactivityTimeout) makes it visible again after
ErrorVisibilityTimeout; deletes without a POST a message first received longer than
RetentionPeriod ago. On SIGTERM it stops polling and finishes what is in flight.

With `cron.yaml`, the instances elect one leader through the environment's DynamoDB table
(a conditional write of a lease, renewed every few seconds, taken over when it lapses); the
leader enqueues each task's runs as EB does, each scheduled run claimed by a conditional
write first, so no run is ever enqueued twice, and a run missed while no instance led is sent
once if it is still within the grace period.

Configuration: /etc/aws-sqsd.d/default.yaml (JSON, which YAML reads too); log:
/var/log/aws-sqsd/default.log; health: /var/lib/beanpole/sqsd-status.json."""

import collections
import datetime
import http.client
import json
import os
import queue
import signal
import socket
import sys
import threading
import time

from . import awsapi, cron

CONFIG = "/etc/aws-sqsd.d/default.yaml"
LOG = "/var/log/aws-sqsd/default.log"
STATUS = "sqsd-status.json"
VERSION = "aws-sqsd/3.0.4 (beanpole)"
LONG_POLL = 20
MAX_MESSAGES = 10
LEASE_SECONDS = 20
RENEW_SECONDS = 5
GRACE_SECONDS = 120
REPORT_SECONDS = 10
SCHEDULED_BODY = "elasticbeanstalk scheduled job"
LEADER_KEY = "leader"


def iso(ms):
    """EB's time format for the headers: `2026-12-03T10:15:00Z`."""
    try:
        seconds = int(ms) / 1000.0
    except (TypeError, ValueError):
        return ""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def header_safe(value):
    """A header value as is, or None when it cannot travel in a header (line breaks, other
    control characters, characters outside Latin-1)."""
    if any(ord(c) < 32 and c != "\t" for c in value) or "\x7f" in value:
        return None
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return None
    return value


class Log:
    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def __call__(self, message, level="INFO"):
        line = "%s [%s] %s\n" % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), level, message)
        with self.lock:
            self.file.write(line)
            self.file.flush()


class Daemon:
    def __init__(self, config, status_path, log, client, instance_id):
        self.config = config
        self.status_path = status_path
        self.log = log
        self.client = client
        self.instance_id = instance_id
        self.queue_url = config["queue_url"]
        self.queue_name = self.queue_url.rstrip("/").rsplit("/", 1)[-1]
        self.stopping = threading.Event()
        self.slots = threading.BoundedSemaphore(int(config["http_connections"]))
        self.deletions = queue.Queue()
        self.counts = {"received": 0, "delivered": 0, "deleted": 0, "failed": 0, "expired": 0, "enqueued": 0}
        # Seconds summed over messages: the POST until its 200, the 200 until SQS confirmed
        # the deletion (what the daemon adds to the application's own time).
        self.timings = {"post_seconds": 0.0, "delete_seconds": 0.0}
        self.counts_lock = threading.Lock()
        self.in_flight = 0
        self.leader = False
        self.last_poll_ok = None
        self.last_error = None
        self.started = time.time()
        self.workers = []
        # The oldest message (seconds since sent) received since the last report.
        self.oldest_age = None
        self.last_report = 0.0
        # What `beanpole events` shows of this daemon: its last notable events.
        self.events = collections.deque(maxlen=20)

    def event(self, message, level="INFO"):
        """A notable event: in the log, and in the reports `beanpole events` reads."""
        self.log(message, level)
        with self.counts_lock:
            self.events.append({"time": time.time(), "level": level, "message": message})

    def count(self, name, n=1):
        with self.counts_lock:
            self.counts[name] += n

    # ----- health -----

    def write_status(self):
        with self.counts_lock:
            status = {"pid": os.getpid(), "started": self.started, "heartbeat": time.time(),
                      "queue": self.queue_name, "polling_ok": self.last_poll_ok, "last_error": self.last_error,
                      "in_flight": self.in_flight, "leader": self.leader, "counts": dict(self.counts),
                      "timings": dict(self.timings)}
        tmp = self.status_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(status, f)
        os.replace(tmp, self.status_path)

    def heartbeat_loop(self):
        while not self.stopping.wait(2):
            self.write_status()
            if time.time() - self.last_report >= REPORT_SECONDS:
                self.report()

    def report(self):
        """How this daemon is, in the versions bucket, where `beanpole status` reads it."""
        prefix = self.config.get("report_prefix")
        if not prefix:
            return
        self.last_report = time.time()
        with self.counts_lock:
            body = {"instance": self.instance_id, "time": time.time(), "polling_ok": bool(self.last_poll_ok),
                    "last_error": self.last_error, "in_flight": self.in_flight, "leader": self.leader,
                    "oldest_age_secs": self.oldest_age, "counts": dict(self.counts),
                    "events": list(self.events)}
            self.oldest_age = None
        bucket, key = awsapi.split_s3_url(prefix)
        try:
            self.client.put_object(bucket, key + self.instance_id + ".json", json.dumps(body).encode())
        except awsapi.AwsError as e:
            self.log("cannot report to %s: %s" % (prefix, e), "WARN")

    # ----- the queue -----

    def check_queue(self):
        """Reads the queue's attributes once: the daemon reports in only when it can."""
        self.client.sqs("GetQueueAttributes", {"QueueUrl": self.queue_url, "AttributeNames": ["QueueArn"]})

    def run(self):
        deleter = threading.Thread(target=self.delete_loop, daemon=True)
        threads = [threading.Thread(target=self.heartbeat_loop, daemon=True), deleter]
        if self.config.get("cron") and self.config.get("leader_table"):
            threads.append(threading.Thread(target=self.cron_loop, daemon=True))
        for t in threads:
            t.start()
        while not self.stopping.is_set():
            try:
                self.check_queue()
                self.last_poll_ok, self.last_error = True, None
                self.report()
                break
            except awsapi.AwsError as e:
                if self.last_poll_ok is not False:
                    self.event("cannot read queue %s: %s" % (self.queue_url, e), "ERROR")
                self.last_poll_ok, self.last_error = False, str(e)
                self.write_status()
                self.stopping.wait(5)
        self.write_status()
        self.event("polling %s: HttpPath %s, %s connections, visibility %s s, inactivity %s s" % (
            self.queue_url, self.config["http_path"], self.config["http_connections"],
            self.config["visibility_timeout"], self.config["inactivity_timeout"]))
        while not self.stopping.is_set():
            free = self.take_slots()
            if free == 0:
                continue
            try:
                answer = self.client.sqs("ReceiveMessage", {
                    "QueueUrl": self.queue_url,
                    "MaxNumberOfMessages": free,
                    "WaitTimeSeconds": LONG_POLL,
                    "VisibilityTimeout": int(self.config["visibility_timeout"]),
                    "MessageAttributeNames": ["All"],
                    "MessageSystemAttributeNames": ["All"],
                    "AttributeNames": ["All"],
                }, timeout=LONG_POLL + 10)
                if self.last_poll_ok is False:
                    self.event("receiving again from %s" % self.queue_name)
                self.last_poll_ok, self.last_error = True, None
            except awsapi.AwsError as e:
                self.release_slots(free)
                if self.last_poll_ok:
                    self.event("receive failed: %s" % e, "ERROR")
                else:
                    self.log("receive failed: %s" % e, "ERROR")
                self.last_poll_ok, self.last_error = False, str(e)
                self.stopping.wait(2)
                continue
            messages = answer.get("Messages", [])
            self.release_slots(free - len(messages))
            for message in messages:
                sent = message.get("Attributes", {}).get("SentTimestamp")
                if sent and sent.isdigit():
                    age = max(time.time() - int(sent) / 1000.0, 0.0)
                    with self.counts_lock:
                        self.oldest_age = age if self.oldest_age is None else max(self.oldest_age, age)
            self.count("received", len(messages))
            for message in messages:
                worker = threading.Thread(target=self.handle, args=(message,), daemon=True)
                with self.counts_lock:
                    self.in_flight += 1
                    self.workers = [w for w in self.workers if w.is_alive()]
                    self.workers.append(worker)
                worker.start()
        # Stop: no more polling; what is in flight finishes, its deletions are sent.
        self.log("stopping: finishing %d message(s) in flight" % self.in_flight)
        for worker in list(self.workers):
            worker.join()
        # The deleter alone takes from the queue: it sends what is left, then ends.
        self.deletions.put(None)
        deleter.join()
        self.release_lease()
        self.event("stopped")
        self.last_poll_ok, self.last_error = False, "stopped"
        self.write_status()
        self.report()

    def take_slots(self):
        """Up to 10 free connections (waits for one)."""
        if not self.slots.acquire(timeout=1):
            return 0
        taken = 1
        while taken < MAX_MESSAGES and self.slots.acquire(blocking=False):
            taken += 1
        return taken

    def release_slots(self, n):
        for _ in range(max(n, 0)):
            self.slots.release()

    # ----- one message -----

    def handle(self, message):
        try:
            self.deliver(message)
        except Exception as e:  # a message is never dropped by a bug here: it comes back
            self.log("message %s: %s" % (message.get("MessageId"), e), "ERROR")
            self.retry_later(message)
        finally:
            with self.counts_lock:
                self.in_flight -= 1
            self.slots.release()

    def deliver(self, message):
        attributes = message.get("Attributes", {})
        first = attributes.get("ApproximateFirstReceiveTimestamp")
        retention = int(self.config["retention_period"])
        if first and time.time() - int(first) / 1000.0 > retention:
            self.log("message %s: first received more than %d s ago (RetentionPeriod): deleted without a POST" % (message["MessageId"], retention), "WARN")
            self.count("expired")
            self.deletions.put((message["ReceiptHandle"], time.time()))
            return
        path, headers = self.request_of(message)
        posted = time.time()
        status = self.post(path, message.get("Body", "").encode("utf-8"), headers)
        if status == 200:
            answered = time.time()
            self.count("delivered")
            with self.counts_lock:
                self.timings["post_seconds"] += answered - posted
            self.deletions.put((message["ReceiptHandle"], answered))
            self.log("message %s: POST %s answered 200: deleted" % (message["MessageId"], path))
        else:
            self.count("failed")
            self.log("message %s: POST %s %s: visible again in %s s" % (
                message["MessageId"], path, "answered %s" % status if isinstance(status, int) else status,
                self.config["error_visibility_timeout"]), "WARN")
            self.retry_later(message)

    def request_of(self, message):
        attributes = message.get("Attributes", {})
        custom = message.get("MessageAttributes", {})
        headers = {
            "User-Agent": VERSION,
            "Content-Type": self.config["mime_type"],
            "X-Aws-Sqsd-Msgid": message["MessageId"],
            "X-Aws-Sqsd-Queue": self.queue_name,
            "X-Aws-Sqsd-First-Received-At": iso(attributes.get("ApproximateFirstReceiveTimestamp")),
            "X-Aws-Sqsd-Receive-Count": attributes.get("ApproximateReceiveCount", "1"),
            "X-Aws-Sqsd-Sent-At": iso(attributes.get("SentTimestamp")),
            "X-Aws-Sqsd-Sender-Id": attributes.get("SenderId", ""),
        }
        path = self.config["http_path"]
        task = custom.get("beanstalk.sqsd.task_name", {}).get("StringValue")
        if task is not None:
            # A periodic task: to its own URL, named, with its scheduled time.
            path = custom.get("beanstalk.sqsd.path", {}).get("StringValue") or path
            headers["X-Aws-Sqsd-Taskname"] = task
            headers["X-Aws-Sqsd-Scheduled-At"] = custom.get("beanstalk.sqsd.scheduled_time", {}).get("StringValue", "")
        for name, value in sorted(custom.items()):
            if name.startswith("beanstalk.sqsd.") or value.get("DataType", "").split(".")[0] not in ("String", "Number"):
                continue
            text = header_safe(value.get("StringValue", ""))
            if text is None or not all(c.isalnum() or c in "-_." for c in name):
                self.log("message %s: attribute %s cannot be a header: left out" % (message["MessageId"], name), "WARN")
                continue
            headers["X-Aws-Sqsd-Attr-" + name] = text
        return path, {k: v for k, v in headers.items() if header_safe(v) is not None}

    def post(self, path, body, headers):
        """The application's status, or why there is none."""
        connection = http.client.HTTPConnection(self.config.get("host", "127.0.0.1"), int(self.config["port"]),
                                                timeout=int(self.config["connect_timeout"]))
        try:
            try:
                connection.connect()
            except OSError as e:
                return "could not connect within ConnectTimeout (%s s): %s" % (self.config["connect_timeout"], e)
            connection.sock.settimeout(int(self.config["inactivity_timeout"]))
            try:
                connection.request("POST", path, body=body, headers=headers)
                answer = connection.getresponse()
                answer.read()
                return answer.status
            except socket.timeout:
                return "no answer within InactivityTimeout (%s s)" % self.config["inactivity_timeout"]
            except (OSError, http.client.HTTPException) as e:
                return "failed: %s" % e
        finally:
            connection.close()

    def retry_later(self, message):
        try:
            self.client.sqs("ChangeMessageVisibility", {
                "QueueUrl": self.queue_url,
                "ReceiptHandle": message["ReceiptHandle"],
                "VisibilityTimeout": int(self.config["error_visibility_timeout"]),
            })
        except awsapi.AwsError as e:
            # It comes back anyway, after its VisibilityTimeout.
            self.log("message %s: cannot make it visible again now (%s): it returns after VisibilityTimeout" % (message.get("MessageId"), e), "WARN")

    def delete_loop(self):
        """Deletes in batches of up to 10, at most 0.2 s after the answer; `None` ends it."""
        while True:
            handles = []
            try:
                first = self.deletions.get(timeout=1)
            except queue.Empty:
                continue
            if first is None:
                # The end: drain what is left, then return.
                while True:
                    try:
                        item = self.deletions.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        handles.append(item)
                self.delete(handles)
                return
            handles.append(first)
            deadline = time.time() + 0.2
            while len(handles) < 10 and time.time() < deadline:
                try:
                    item = self.deletions.get(timeout=max(deadline - time.time(), 0.01))
                except queue.Empty:
                    break
                if item is None:
                    self.deletions.put(None)
                    break
                handles.append(item)
            self.delete(handles)

    def delete(self, handles):
        for start in range(0, len(handles), 10):
            batch = handles[start:start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, (h, _) in enumerate(batch)]
            for attempt in range(3):
                try:
                    answer = self.client.sqs("DeleteMessageBatch", {"QueueUrl": self.queue_url, "Entries": entries})
                    failed = answer.get("Failed", [])
                    self.count("deleted", len(batch) - len(failed))
                    done = time.time()
                    with self.counts_lock:
                        self.timings["delete_seconds"] += sum(done - t for _, t in batch)
                    for f in failed:
                        self.log("delete failed: %s" % f, "WARN")
                    break
                except awsapi.AwsError as e:
                    # A delete whose answer is lost is safe to repeat.
                    self.log("delete batch failed (%s), attempt %d" % (e, attempt + 1), "WARN")
                    time.sleep(0.5)

    # ----- cron.yaml -----

    def cron_loop(self):
        table = self.config["leader_table"]
        tasks = self.config["cron"]
        self.log("cron.yaml: %d task(s); leader elected in table %s" % (len(tasks), table))
        while not self.stopping.is_set():
            now = time.time()
            try:
                was = self.leader
                self.leader = self.take_lease(table, now)
                if self.leader and not was:
                    self.event("cron: this instance (%s) leads" % self.instance_id)
                elif was and not self.leader:
                    self.event("cron: this instance no longer leads", "WARN")
                if self.leader:
                    for task in tasks:
                        self.run_due(table, task, now)
            except awsapi.AwsError as e:
                self.log("cron: %s" % e, "ERROR")
                self.leader = False
            # Wake at the next renewal, or just after the next minute starts.
            to_minute = 60 - (time.time() % 60) + 0.2
            self.stopping.wait(min(RENEW_SECONDS, to_minute))

    def take_lease(self, table, now):
        """Leads when the lease is free, lapsed or already this instance's (a renewal whose
        answer was lost is recognised by its holder)."""
        try:
            self.client.dynamodb("PutItem", {
                "TableName": table,
                "Item": {"id": {"S": LEADER_KEY}, "holder": {"S": self.instance_id},
                         "expires": {"N": str(int(now) + LEASE_SECONDS)}},
                "ConditionExpression": "attribute_not_exists(id) OR expires < :now OR holder = :me",
                "ExpressionAttributeValues": {":now": {"N": str(int(now))}, ":me": {"S": self.instance_id}},
            })
            return True
        except awsapi.AwsError as e:
            if e.code == "ConditionalCheckFailedException":
                return False
            raise

    def release_lease(self):
        if not self.leader or not self.config.get("leader_table"):
            return
        try:
            self.client.dynamodb("DeleteItem", {
                "TableName": self.config["leader_table"],
                "Key": {"id": {"S": LEADER_KEY}},
                "ConditionExpression": "holder = :me",
                "ExpressionAttributeValues": {":me": {"S": self.instance_id}},
            })
            self.log("cron: lease given up")
        except awsapi.AwsError as e:
            self.log("cron: lease not given up (%s): it lapses" % e, "WARN")

    def run_due(self, table, task, now):
        """Enqueues the task's runs due since its last one (within the grace period), each
        claimed first: a conditional write that only one instance can make per run."""
        key = {"id": {"S": "task#" + task["name"]}}
        item = self.client.dynamodb("GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}).get("Item")
        last = int(item["last"]["N"]) if item and "last" in item else None
        this_minute = int(now) - int(now) % 60
        start = this_minute if last is None else max(last + 60, this_minute - GRACE_SECONDS)
        if last is not None and last + 60 < this_minute - GRACE_SECONDS:
            self.log("cron: %s: runs between %s and %s are past the grace period: not sent" % (
                task["name"], iso((last + 60) * 1000), iso((this_minute - GRACE_SECONDS) * 1000)), "WARN")
        for minute in range(start, this_minute + 1, 60):
            if not cron.matches(task["schedule"], minute):
                continue
            try:
                self.client.dynamodb("UpdateItem", {
                    "TableName": table, "Key": key,
                    "UpdateExpression": "SET #last = :m, holder = :me",
                    "ConditionExpression": "attribute_not_exists(#last) OR #last < :m",
                    "ExpressionAttributeNames": {"#last": "last"},
                    "ExpressionAttributeValues": {":m": {"N": str(minute)}, ":me": {"S": self.instance_id}},
                })
            except awsapi.AwsError as e:
                if e.code == "ConditionalCheckFailedException":
                    continue
                raise
            self.enqueue(task, minute)

    def enqueue(self, task, minute):
        scheduled = iso(minute * 1000)
        payload = {
            "QueueUrl": self.queue_url,
            "MessageBody": SCHEDULED_BODY,
            "MessageAttributes": {
                "beanstalk.sqsd.path": {"DataType": "String", "StringValue": task["url"]},
                "beanstalk.sqsd.task_name": {"DataType": "String", "StringValue": task["name"]},
                "beanstalk.sqsd.scheduled_time": {"DataType": "String", "StringValue": scheduled},
            },
        }
        for attempt in range(3):
            try:
                self.client.sqs("SendMessage", payload)
                self.count("enqueued")
                self.log("cron: %s scheduled at %s enqueued" % (task["name"], scheduled))
                return
            except awsapi.AwsError as e:
                if e.status == 0:
                    # No answer: it may have been sent; never risk a second enqueue.
                    self.log("cron: %s at %s: SendMessage got no answer (%s): not repeated" % (task["name"], scheduled, e), "WARN")
                    return
                self.log("cron: %s at %s: %s (attempt %d)" % (task["name"], scheduled, e, attempt + 1), "WARN")
                time.sleep(1)


def load_config(paths):
    with open(paths.at(CONFIG), encoding="utf-8") as f:
        return json.load(f)


def main(paths, instance_id):
    config = load_config(paths)
    log = Log(paths.at(LOG))
    daemon = Daemon(config, os.path.join(paths.state, STATUS), log, awsapi.Client(), instance_id)

    def on_signal(signum, frame):
        daemon.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    daemon.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(None, None))
