"""The worker daemon's pure parts: Signature Version 4 (AWS's published example), cron
schedules, the headers a message is POSTed with."""

import calendar
import datetime
import unittest

from beanpole_engine import awsapi, cron, sqsd


class SignatureTest(unittest.TestCase):
    def test_aws_published_example(self):
        # AWS's "Signature Version 4 signing process" example (IAM ListUsers).
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        now = datetime.datetime(2015, 8, 30, 12, 36, 0, tzinfo=datetime.timezone.utc)
        awsapi.sign("GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", headers, b"",
                    "iam", "us-east-1", ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None), now)
        self.assertEqual(
            headers["Authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")

    def test_a_session_token_is_signed(self):
        headers = {}
        awsapi.sign("POST", "http://127.0.0.1:5000/", headers, b"{}", "sqs", "us-east-2", ("A", "S", "T"))
        self.assertEqual(headers["X-Amz-Security-Token"], "T")
        self.assertIn("x-amz-security-token", headers["Authorization"])

    def test_errors_are_read_from_json_and_xml(self):
        self.assertEqual(awsapi.error_of(b'{"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": "no"}'),
                         ("ConditionalCheckFailedException", "no"))
        self.assertEqual(awsapi.error_of(b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>"), ("NoSuchKey", "gone"))


class CronTest(unittest.TestCase):
    def at(self, *t):
        return calendar.timegm(t + (0,) * (6 - len(t)))

    def test_fields(self):
        thursday_ten = self.at(2026, 12, 3, 10, 0)
        self.assertTrue(cron.matches("* * * * *", thursday_ten))
        self.assertTrue(cron.matches("*/10 * * * THU", thursday_ten))
        self.assertTrue(cron.matches("0 10 * DEC 4", thursday_ten))
        self.assertFalse(cron.matches("0 */12 * * *", thursday_ten))
        self.assertFalse(cron.matches("5 * * * *", thursday_ten))
        # Day of month or day of week when both are restricted, as cron does.
        self.assertTrue(cron.matches("0 10 1 * THU", thursday_ten))
        self.assertTrue(cron.matches("0 0 * * 7", self.at(2026, 12, 6, 0, 0)))  # a Sunday

    def test_bad_schedules_are_refused(self):
        for bad in ("* * * *", "60 * * * *", "* * * * MOO", "*/0 * * * *"):
            with self.assertRaises(ValueError):
                cron.matches(bad, 0)


class HeadersTest(unittest.TestCase):
    def daemon(self):
        config = {"queue_url": "http://127.0.0.1:1/123456789012/jobs", "http_connections": 2, "http_path": "/work",
                  "mime_type": "text/plain"}
        return sqsd.Daemon(config, "/dev/null", lambda *a: None, None, "i-1")

    def test_a_message_s_headers_are_sqsd_s(self):
        path, headers = self.daemon().request_of({
            "MessageId": "m-1",
            "Body": "x",
            "Attributes": {"ApproximateFirstReceiveTimestamp": "1796270728000", "ApproximateReceiveCount": "2",
                           "SentTimestamp": "1796270668000", "SenderId": "AIDA"},
            "MessageAttributes": {"color": {"DataType": "String", "StringValue": "blue"},
                                  "n": {"DataType": "Number", "StringValue": "3"},
                                  "blob": {"DataType": "Binary", "BinaryValue": "AA=="},
                                  "bad": {"DataType": "String", "StringValue": "a\r\nX-Injected: 1"}},
        })
        self.assertEqual(path, "/work")
        self.assertEqual(headers["Content-Type"], "text/plain")
        self.assertTrue(headers["User-Agent"].startswith("aws-sqsd/"))
        self.assertEqual(headers["X-Aws-Sqsd-Msgid"], "m-1")
        self.assertEqual(headers["X-Aws-Sqsd-Queue"], "jobs")
        self.assertEqual(headers["X-Aws-Sqsd-Receive-Count"], "2")
        self.assertEqual(headers["X-Aws-Sqsd-First-Received-At"], "2026-12-03T04:05:28Z")
        self.assertEqual(headers["X-Aws-Sqsd-Sent-At"], "2026-12-03T04:04:28Z")
        self.assertEqual(headers["X-Aws-Sqsd-Attr-color"], "blue")
        self.assertEqual(headers["X-Aws-Sqsd-Attr-n"], "3")
        self.assertNotIn("X-Aws-Sqsd-Attr-blob", headers)
        self.assertNotIn("X-Aws-Sqsd-Attr-bad", headers)

    def test_a_periodic_task_goes_to_its_url(self):
        path, headers = self.daemon().request_of({
            "MessageId": "m-2", "Body": sqsd.SCHEDULED_BODY, "Attributes": {},
            "MessageAttributes": {"beanstalk.sqsd.path": {"DataType": "String", "StringValue": "/tasks/tick"},
                                  "beanstalk.sqsd.task_name": {"DataType": "String", "StringValue": "tick"},
                                  "beanstalk.sqsd.scheduled_time": {"DataType": "String", "StringValue": "2026-12-03T04:06:00Z"}},
        })
        self.assertEqual(path, "/tasks/tick")
        self.assertEqual(headers["X-Aws-Sqsd-Taskname"], "tick")
        self.assertEqual(headers["X-Aws-Sqsd-Scheduled-At"], "2026-12-03T04:06:00Z")
        self.assertFalse(any(k.startswith("X-Aws-Sqsd-Attr-beanstalk") for k in headers))


if __name__ == "__main__":
    unittest.main()


class MetadataCredentialsTest(unittest.TestCase):
    """The instance role's credentials through IMDSv2, from a metadata service on 127.0.0.1
    (AWS_EC2_METADATA_SERVICE_ENDPOINT, as the SDKs read it)."""

    def test_credentials_and_region_come_from_imdsv2(self):
        import http.server
        import json as json_module
        import threading

        seen = []

        class Metadata(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self):
                seen.append(("PUT", self.path, self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")))
                self.answer(200, b"token-1")

            def do_GET(self):
                seen.append(("GET", self.path, self.headers.get("X-aws-ec2-metadata-token")))
                if self.headers.get("X-aws-ec2-metadata-token") != "token-1":
                    return self.answer(401, b"")
                if self.path == "/latest/meta-data/iam/security-credentials/":
                    return self.answer(200, b"worker-role")
                if self.path == "/latest/meta-data/iam/security-credentials/worker-role":
                    return self.answer(200, json_module.dumps({
                        "AccessKeyId": "ASIA1", "SecretAccessKey": "secret", "Token": "session",
                        "Expiration": "2099-01-01T00:00:00Z"}).encode())
                if self.path == "/latest/meta-data/placement/region":
                    return self.answer(200, b"eu-west-3")
                self.answer(404, b"")

        server = http.server.HTTPServer(("127.0.0.1", 0), Metadata)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            environ = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:%d" % server.server_port}
            credentials = awsapi.Credentials(environ)
            self.assertEqual(credentials.get(), ("ASIA1", "secret", "session"))
            calls = len(seen)
            # Cached until five minutes before they expire.
            self.assertEqual(credentials.get(), ("ASIA1", "secret", "session"))
            self.assertEqual(len(seen), calls)
            self.assertEqual(awsapi.region_of(environ, credentials), "eu-west-3")
            self.assertTrue(all(token == "token-1" for method, _, token in seen if method == "GET"))
        finally:
            server.shutdown()

    def test_disabled_metadata_without_keys_is_an_error(self):
        with self.assertRaises(awsapi.AwsError):
            awsapi.Credentials({"AWS_EC2_METADATA_DISABLED": "true"}).get()


class RetentionTest(unittest.TestCase):
    def test_a_message_past_its_retention_is_deleted_without_a_post(self):
        import time as time_module

        config = {"queue_url": "http://127.0.0.1:1/123456789012/jobs", "http_connections": 1, "http_path": "/",
                  "mime_type": "application/json", "retention_period": 60, "connect_timeout": 1,
                  "inactivity_timeout": 1, "port": 1}
        daemon = sqsd.Daemon(config, "/dev/null", lambda *a: None, None, "i-1")
        old = str(int((time_module.time() - 120) * 1000))
        daemon.post = lambda *a: self.fail("a message past its retention is not POSTed")
        daemon.deliver({"MessageId": "m", "ReceiptHandle": "h", "Body": "{}",
                        "Attributes": {"ApproximateFirstReceiveTimestamp": old}})
        handle, _ = daemon.deletions.get_nowait()
        self.assertEqual(handle, "h")
        self.assertEqual(daemon.counts["expired"], 1)


class SudoShimTest(unittest.TestCase):
    """A developer's machine playing an instance may have no sudo; EB's commands call it."""

    def test_root_s_sudo_runs_the_command_and_refuses_another_user(self):
        import os
        import subprocess
        import tempfile

        from beanpole_engine import properties
        from beanpole_engine.paths import Paths

        with tempfile.TemporaryDirectory() as root:
            paths = Paths(root, view=False)
            folder = properties.sudo_shim(paths, "/nonexistent")
            self.assertEqual(folder, os.path.join(root, "opt/beanpole/bin"))
            sudo = os.path.join(folder, "sudo")
            out = subprocess.run([sudo, "-E", "-u", "root", "echo", "ran"], capture_output=True, text=True)
            self.assertEqual((out.returncode, out.stdout), (0, "ran\n"))
            out = subprocess.run([sudo, "-u", "webapp", "echo", "ran"], capture_output=True, text=True)
            self.assertEqual(out.returncode, 1)
            self.assertIn("as root only", out.stderr)
            # Where the machine has a sudo, it is the one used.
            os.makedirs(os.path.join(root, "bin"))
            real = os.path.join(root, "bin", "sudo")
            with open(real, "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(real, 0o755)
            self.assertIsNone(properties.sudo_shim(paths, os.path.join(root, "bin")))
        self.assertIsNone(properties.sudo_shim(Paths("/", view=False), "/nonexistent"))
