"""AWS from the instance with Python's standard library alone: Signature Version 4, the
instance role's credentials (IMDSv2, refreshed before they expire; or the environment's
AWS_ACCESS_KEY_ID… where there is no metadata service), and the few calls the platform makes
(SQS and DynamoDB in their JSON protocols, S3 objects). One client lives as long as its
process: no AWS CLI process per call.

Endpoints: AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, else AWS's regional one."""

import datetime
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

METADATA = "http://169.254.169.254"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class AwsError(Exception):
    """A call AWS answered with an error (or that never got an answer)."""

    def __init__(self, operation, status, code, message):
        super().__init__("%s: %s %s: %s" % (operation, status, code, message))
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message

    @property
    def not_found(self):
        return self.status == 404 or self.code in ("NoSuchKey", "NotFound", "404")


class Credentials:
    """The role's credentials from IMDSv2 (or the environment's), refreshed five minutes
    before they expire."""

    def __init__(self, environ=None):
        self.environ = os.environ if environ is None else environ
        self.lock = threading.Lock()
        self.value = None
        self.expires = 0.0

    def metadata_endpoint(self):
        return self.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", METADATA).rstrip("/")

    def metadata(self, path, timeout=2):
        """One answer of the metadata service (IMDSv2: a session token first)."""
        base = self.metadata_endpoint()
        token = urllib.request.urlopen(urllib.request.Request(
            base + "/latest/api/token", method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}), timeout=timeout).read().decode()
        request = urllib.request.Request(base + path, headers={"X-aws-ec2-metadata-token": token})
        return urllib.request.urlopen(request, timeout=timeout).read().decode()

    def get(self):
        with self.lock:
            if self.value and time.time() < self.expires - 300:
                return self.value
            env = self.environ
            if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
                self.value = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN"))
                self.expires = time.time() + 3600
                return self.value
            if env.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
                raise AwsError("credentials", 0, "NoCredentials", "no AWS_ACCESS_KEY_ID and the metadata service is disabled")
            try:
                role = self.metadata("/latest/meta-data/iam/security-credentials/").split("\n")[0].strip()
                document = json.loads(self.metadata("/latest/meta-data/iam/security-credentials/" + role))
            except (OSError, ValueError, IndexError) as e:
                raise AwsError("credentials", 0, "NoCredentials", "the instance role's credentials: %s" % e) from e
            self.value = (document["AccessKeyId"], document["SecretAccessKey"], document.get("Token"))
            expiration = document.get("Expiration", "")
            try:
                self.expires = datetime.datetime.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
            except ValueError:
                self.expires = time.time() + 900
            return self.value


def region_of(environ=None, credentials=None):
    environ = os.environ if environ is None else environ
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    if credentials is not None:
        try:
            return credentials.metadata("/latest/meta-data/placement/region").strip()
        except OSError:
            pass
    return "us-east-1"


def sign(method, url, headers, body, service, region, credentials, now=None):
    """Adds SigV4's headers (Authorization, X-Amz-Date, the session token) to `headers`."""
    access_key, secret_key, token = credentials
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    parts = urllib.parse.urlsplit(url)
    payload_hash = hashlib.sha256(body).hexdigest()
    headers["Host"] = parts.netloc
    headers["X-Amz-Date"] = amz_date
    if service == "s3":
        headers["X-Amz-Content-Sha256"] = payload_hash
    if token:
        headers["X-Amz-Security-Token"] = token
    canonical_headers = sorted((k.lower(), " ".join(str(v).split())) for k, v in headers.items())
    signed = ";".join(k for k, _ in canonical_headers)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    canonical_query = "&".join(
        "%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")) for k, v in sorted(query))
    path = parts.path or "/"
    canonical_path = path if service == "s3" else urllib.parse.quote(path, safe="/-_.~%")
    canonical = "\n".join([
        method, canonical_path, canonical_query,
        "".join("%s:%s\n" % (k, v) for k, v in canonical_headers), signed, payload_hash])
    scope = "%s/%s/%s/aws4_request" % (day, region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        access_key, scope, signed, signature)
    return headers


class Client:
    """Signed calls to SQS, DynamoDB and S3, with the process's credentials and region."""

    def __init__(self, environ=None, timeout=30):
        self.environ = os.environ if environ is None else environ
        self.credentials = Credentials(self.environ)
        self.region = region_of(self.environ)
        self.timeout = timeout

    def endpoint(self, service):
        specific = self.environ.get("AWS_ENDPOINT_URL_" + service.upper())
        general = self.environ.get("AWS_ENDPOINT_URL")
        if specific or general:
            return (specific or general).rstrip("/"), True
        return "https://%s.%s.amazonaws.com" % (service, self.region), False

    def send(self, method, url, service, operation, body=b"", headers=None, timeout=None):
        """(status, headers, body); an AwsError for an error status."""
        headers = dict(headers or {})
        sign(method, url, headers, body, service, self.region, self.credentials.get())
        request = urllib.request.Request(url, data=body if method in ("POST", "PUT") else None, method=method,
                                         headers={k: v for k, v in headers.items() if k != "Host"})
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as e:
            text = e.read()
            code, message = error_of(text)
            raise AwsError(operation, e.code, code, message) from e
        except OSError as e:
            raise AwsError(operation, 0, "NoAnswer", str(e)) from e

    def json_call(self, service, prefix, operation, payload, timeout=None):
        url = self.endpoint(service)[0] + "/"
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "%s.%s" % (prefix, operation)}
        _, _, answer = self.send("POST", url, service, operation, body, headers, timeout)
        return json.loads(answer or b"{}")

    # ----- SQS -----

    def sqs(self, operation, payload, timeout=None):
        return self.json_call("sqs", "AmazonSQS", operation, payload, timeout)

    # ----- DynamoDB -----

    def dynamodb(self, operation, payload):
        return self.json_call("dynamodb", "DynamoDB_20120810", operation, payload)

    # ----- S3 -----

    def object_url(self, bucket, key):
        base, custom = self.endpoint("s3")
        quoted = urllib.parse.quote(key, safe="/-_.~")
        if custom:
            return "%s/%s/%s" % (base, bucket, quoted)
        return "https://%s.s3.%s.amazonaws.com/%s" % (bucket, self.region, quoted)

    def get_object(self, bucket, key):
        _, _, body = self.send("GET", self.object_url(bucket, key), "s3", "GetObject")
        return body

    def download(self, bucket, key, path):
        """An object written to `path` as it arrives (a bundle may be large); its size."""
        url = self.object_url(bucket, key)
        headers = sign("GET", url, {}, b"", "s3", self.region, self.credentials.get())
        request = urllib.request.Request(url, method="GET", headers={k: v for k, v in headers.items() if k != "Host"})
        tmp = path + ".part"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer, open(tmp, "wb") as f:
                size = 0
                while True:
                    chunk = answer.read(1 << 20)
                    if not chunk:
                        break
                    f.write(chunk)
                    size += len(chunk)
            os.replace(tmp, path)
            return size
        except urllib.error.HTTPError as e:
            code, message = error_of(e.read())
            raise AwsError("GetObject", e.code, code, message) from e
        except OSError as e:
            raise AwsError("GetObject", 0, "NoAnswer", str(e)) from e
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def put_object(self, bucket, key, body, content_type="application/json"):
        self.send("PUT", self.object_url(bucket, key), "s3", "PutObject", body, {"Content-Type": content_type})


def error_of(text):
    """(code, message) of an AWS error answer: JSON (`__type`) or XML (`<Code>`)."""
    try:
        value = json.loads(text)
        code = value.get("__type", value.get("code", "")).split("#")[-1]
        return code, value.get("message", value.get("Message", ""))
    except ValueError:
        pass
    import re

    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    code = re.search(r"<Code>([^<]*)</Code>", text)
    message = re.search(r"<Message>([^<]*)</Message>", text)
    return (code.group(1) if code else "", message.group(1) if message else text[:200])


def split_s3_url(url):
    """(bucket, key) of `s3://BUCKET/KEY`."""
    rest = url[len("s3://"):] if url.startswith("s3://") else url
    bucket, _, key = rest.partition("/")
    return bucket, key
