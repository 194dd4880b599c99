#!/usr/bin/env python3
"""Beanpole's platform engine: what Elastic Beanstalk's platform engine does on an instance of
its Python platform, as one Python 3.9 standard-library program.

  boot       at an instance's first boot (its user data): deploy what the environment runs
             (its current deployment document in the versions bucket), else the sample
             application
  deploy     fetch a version, stage it, run .ebextensions and .platform hooks, build the
             virtualenv, configure the proxy, flip staging to current, start the Procfile
             processes, check health; put the previous version back when a step after the flip
             fails; write a report
  stop       stop the processes and the proxy it started
  logs       print the last lines of the platform's logs
  supervise  (internal) keep one Procfile process running where there is no systemd

Every path is under --root (default /): on an instance the paths are EB's own
(/var/app/current, /var/app/venv/staging-LQM1lest, /opt/elasticbeanstalk/deployment/env, ...);
on a developer's machine or in Beanpole's local fleet the same tree lives in a folder.
Processes run under systemd on an instance and under `supervise` elsewhere.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile

SCHEMA = 1
# Command strings run with bash, the /bin/sh of Amazon Linux (`source` works in them).
BASH = "/bin/bash" if os.path.exists("/bin/bash") else None
VENV_NAME = "staging-LQM1lest"
TAIL_LINES = 50
HOOK_STAGES = ("prebuild", "predeploy", "postdeploy")
PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(\S.*)$")
URL_PATH = re.compile(r"^/[A-Za-z0-9/._~-]*$")
BUNDLE_FOLDER = re.compile(r"^[A-Za-z0-9._-][A-Za-z0-9/._-]*$")
PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
SAMPLE_APPLICATION = '''"""Beanpole's sample application: served until the environment's first version."""


def application(environ, start_response):
    body = (
        b"<!doctype html><title>Beanpole</title>"
        b"<h1>Your Beanpole environment is ready</h1>"
        b"<p>Deploy your application with <code>beanpole deploy</code>.</p>"
    )
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]
'''


class Failure(Exception):
    """A step failed: its name, what happened, and the last lines of its output."""

    def __init__(self, message, output=""):
        Exception.__init__(self, message)
        self.message = message
        self.output = output


class Paths:
    def __init__(self, root):
        self.root = os.path.abspath(root)

    def at(self, absolute):
        if self.root == "/":
            return absolute
        return os.path.join(self.root, absolute.lstrip("/"))

    def __getattr__(self, name):
        table = {
            "staging": "/var/app/staging",
            "current": "/var/app/current",
            "previous": "/var/app/.previous",
            "failed": "/var/app/.failed",
            "venvs": "/var/app/venv",
            "deployment": "/opt/elasticbeanstalk/deployment",
            "logs": "/var/log",
            "pids": "/var/pids",
            "run": "/run/beanpole",
            "state": "/var/lib/beanpole",
            "etc": "/etc",
            "systemd": "/etc/systemd/system",
        }
        if name in table:
            return self.at(table[name])
        raise AttributeError(name)

    @property
    def venv_link(self):
        return os.path.join(self.venvs, VENV_NAME)

    @property
    def env_file(self):
        return os.path.join(self.deployment, "env")

    @property
    def bundle(self):
        return os.path.join(self.deployment, "app_source_bundle")

    def log(self, name):
        return os.path.join(self.logs, name)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def tail(text, lines=TAIL_LINES):
    return "\n".join(text.splitlines()[-lines:])


class Engine:
    def __init__(self, root, init="auto", instance_id=None):
        self.paths = Paths(root)
        self.rooted = self.paths.root != "/"
        has_systemd = os.path.isdir("/run/systemd/system") and shutil.which("systemctl")
        if init == "auto":
            init = "systemd" if (not self.rooted and has_systemd) else "engine"
        self.init = init
        self.instance_id = instance_id or self.own_instance_id()
        self.progress_upload = None
        self.warnings = []
        for d in (self.paths.logs, self.paths.state, self.paths.pids, self.paths.run):
            os.makedirs(d, exist_ok=True)

    def own_instance_id(self):
        """The EC2 instance id: Run Command says it (AWS_SSM_INSTANCE_ID), the boot recorded it
        in /opt/beanpole/instance-id, or the instance metadata service tells it; the host name
        where none of these exists."""
        if os.environ.get("AWS_SSM_INSTANCE_ID"):
            return os.environ["AWS_SSM_INSTANCE_ID"]
        recorded = self.paths.at("/opt/beanpole/instance-id")
        try:
            with open(recorded, encoding="utf-8") as f:
                value = f.read().strip()
            if value:
                return value
        except OSError:
            pass
        if not self.rooted:
            try:
                token_request = urllib.request.Request(
                    "http://169.254.169.254/latest/api/token",
                    method="PUT",
                    headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
                )
                token = urllib.request.urlopen(token_request, timeout=2).read().decode()
                id_request = urllib.request.Request(
                    "http://169.254.169.254/latest/meta-data/instance-id",
                    headers={"X-aws-ec2-metadata-token": token},
                )
                value = urllib.request.urlopen(id_request, timeout=2).read().decode().strip()
                os.makedirs(os.path.dirname(recorded), exist_ok=True)
                with open(recorded, "w", encoding="utf-8") as f:
                    f.write(value + "\n")
                return value
            except (OSError, ValueError):
                pass
        return socket.gethostname()

    # ----- logging and running --------------------------------------------------------------

    def log(self, message, level="INFO"):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y/%m/%d %H:%M:%S.%f")
        with open(self.paths.log("eb-engine.log"), "a", encoding="utf-8") as f:
            f.write("%s [%s] %s\n" % (stamp, level, message))

    def warn(self, message):
        self.warnings.append(message)
        self.log(message, "WARN")

    def run(self, argv, cwd=None, env=None, log_name="eb-engine.log", shell=False, check=True, what=None):
        """Runs a command, appending its output to a log; returns (exit code, output)."""
        shown = argv if isinstance(argv, str) else " ".join(argv)
        self.log("Running command: %s" % shown)
        try:
            proc = subprocess.run(
                argv,
                cwd=cwd,
                env=env,
                shell=shell,
                executable=BASH if shell else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            output = proc.stdout.decode("utf-8", "replace")
            code = proc.returncode
        except OSError as e:
            output, code = str(e), 127
        with open(self.paths.log(log_name), "a", encoding="utf-8") as f:
            if log_name != "eb-engine.log":
                f.write("%s [INFO] %s\n" % (now_iso(), shown))
            f.write(output)
            if output and not output.endswith("\n"):
                f.write("\n")
        if check and code != 0:
            raise Failure("%s failed with exit status %d" % (what or shown, code), tail(output))
        return code, output

    # ----- the deployment ---------------------------------------------------------------------

    def lock(self):
        """One deployment at a time per root: a second one waits for the first."""
        import fcntl

        handle = open(os.path.join(self.paths.state, "engine.lock"), "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.log("Waiting for the deployment in progress on this instance to end")
            fcntl.flock(handle, fcntl.LOCK_EX)
        return handle

    def recover(self):
        """Finishes what a killed engine left half done: a flip stopped between moving the
        running version aside and putting the new one in place puts the running one back."""
        p = self.paths
        if not os.path.isdir(p.current) and os.path.isdir(p.previous):
            self.log("An interrupted flip left no current version: putting the previous one back", "WARN")
            os.rename(p.previous, p.current)
        for name in ("nginx", "httpd"):
            live = os.path.join(p.etc, name)
            if not os.path.isdir(live) and os.path.isdir(live + ".previous"):
                os.rename(live + ".previous", live)

    def boot(self, bucket, application, environment, sample_document, report_path=None, report_prefix=None):
        """What the environment runs now, from its pointer in the versions bucket, else the
        sample application (an environment that has no version yet still passes its health
        check, as on Elastic Beanstalk)."""
        os.makedirs(self.paths.deployment, exist_ok=True)
        pointer_key = "%s/environments/%s/current.json" % (application, environment)
        local_pointer = os.path.join(self.paths.deployment, "current.json")
        code, output = 1, ""
        # A deployment's temporary group (immutable, traffic splitting) has a pointer of its
        # own: its instances boot the new version straight away.
        group = self.own_group()
        if group:
            group_key = "%s/environments/%s/groups/%s.json" % (application, environment, group)
            code, output = self.run(["aws", "s3", "cp", "--only-show-errors", "s3://%s/%s" % (bucket, group_key), local_pointer], check=False)
            if code == 0:
                self.log("Group %s has a pointer of its own" % group)
        if code != 0:
            code, output = self.run(["aws", "s3", "cp", "--only-show-errors", "s3://%s/%s" % (bucket, pointer_key), local_pointer], check=False)
        document = sample_document
        if code == 0:
            with open(local_pointer, encoding="utf-8") as f:
                pointer = json.load(f)
            document = os.path.join(self.paths.deployment, "boot-document.json")
            self.run(["aws", "s3", "cp", "--only-show-errors", "s3://%s/%s" % (bucket, pointer["document"]), document], what="fetching the deployment document")
            self.log("Booting into version %s (deployment %s)" % (pointer["label"], pointer["deployment_id"]))
        elif "404" in output or "Not Found" in output or "NoSuchKey" in output:
            self.log("No version deployed to %s yet: serving the sample application" % environment)
        else:
            raise SystemExit("cannot read s3://%s/%s: %s" % (bucket, pointer_key, tail(output, 5)))
        return self.deploy(document, False, report_path, report_prefix)

    def own_group(self):
        """The Auto Scaling group that launched this instance, or None when it cannot be told
        (no permission, no region): the environment's pointer is used then."""
        code, output = self.run(["aws", "autoscaling", "describe-auto-scaling-instances", "--instance-ids", self.instance_id,
                                 "--query", "AutoScalingInstances[0].AutoScalingGroupName", "--output", "text"], check=False)
        group = output.strip()
        if code != 0 or not re.match(r"^[A-Za-z0-9][A-Za-z0-9-]{0,254}$", group) or group == "None":
            return None
        return group

    def fetch_document(self, document_path):
        """A deployment document from the versions bucket (Run Command names it by its key)."""
        if not document_path.startswith("s3://"):
            return document_path
        os.makedirs(self.paths.deployment, exist_ok=True)
        local = os.path.join(self.paths.deployment, "deployment-document.json")
        self.run(["aws", "s3", "cp", "--only-show-errors", document_path, local], what="fetching the deployment document %s" % document_path)
        return local

    def report_path(self, report_path, report_prefix, suffix=".json"):
        if report_prefix:
            return report_prefix.rstrip("/") + "/" + self.instance_id + suffix
        return report_path

    def progress(self, report_prefix, doc, step, started):
        """Says which step runs now, beside the report, without waiting for the upload (the
        deploying command shows it); one upload at a time, the last one wins."""
        if not report_prefix:
            return
        if self.progress_upload is not None and self.progress_upload.poll() is None:
            return
        local = os.path.join(self.paths.state, "progress.json")
        with open(local, "w", encoding="utf-8") as f:
            json.dump({"instance": self.instance_id, "deployment_id": doc["deployment_id"], "step": step, "elapsed": round(time.time() - started, 1)}, f)
        try:
            self.progress_upload = subprocess.Popen(
                ["aws", "s3", "cp", "--only-show-errors", local, self.report_path(None, report_prefix, ".progress.json")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self.progress_upload = None

    def deploy(self, document_path, leader, report_path=None, report_prefix=None):
        started = time.time()
        self.lock_handle = self.lock()
        self.recover()
        report_path = self.report_path(report_path, report_prefix)
        try:
            document_path = self.fetch_document(document_path)
            with open(document_path, encoding="utf-8") as f:
                doc = json.load(f)
        except (Failure, OSError, ValueError) as e:
            report = {
                "schema": SCHEMA,
                "instance": self.instance_id,
                "status": "FAILURE",
                "failed_step": "FetchDocument",
                "message": getattr(e, "message", str(e)),
                "output_tail": getattr(e, "output", ""),
                "steps": [],
                "application": "",
                "environment": "",
                "deployment_id": 0,
                "version": "",
                "rolled_back_to": None,
                "leader": leader,
                "warnings": self.warnings,
                "started": now_iso(),
                "finished": now_iso(),
                "engine_seconds": round(time.time() - started, 3),
            }
            self.write_report(report, report_path)
            return report
        if doc.get("schema") != SCHEMA:
            raise SystemExit("this engine reads deployment documents of schema %d" % SCHEMA)
        if self.rooted:
            # Beanpole's local fleet plays many instances on one machine: each its own ports.
            old_upstream = doc["upstream_port"]
            if os.environ.get("BEANPOLE_PORT"):
                doc["port"] = int(os.environ["BEANPOLE_PORT"])
                doc["listen_address"] = "127.0.0.1"
            if os.environ.get("BEANPOLE_APP_PORT"):
                doc["upstream_port"] = int(os.environ["BEANPOLE_APP_PORT"])
                doc["default_web_command"] = doc["default_web_command"].replace("127.0.0.1:%d " % old_upstream, "127.0.0.1:%d " % doc["upstream_port"])
        self.doc = doc
        self.leader = leader
        report = {
            "schema": SCHEMA,
            "instance": self.instance_id,
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
            "warnings": self.warnings,
            "started": now_iso(),
        }
        self.log("Starting deployment %s of version %s" % (doc["deployment_id"], doc["version"]["label"]))
        previous_state = self.read_state()
        flipped = False
        # A configuration deployment (the same version, new settings: properties, proxy,
        # static files, WSGI) runs .platform/confighooks instead of .platform/hooks, as on
        # Elastic Beanstalk.
        hooks = "confighooks" if doc.get("configuration") else "hooks"
        steps = [
            ("FetchVersion", self.fetch_version),
            ("ResolveSecrets", self.resolve_secrets),
            ("StageApplication", self.stage_application),
            ("PreBuildEbExtension", self.prebuild_ebextension),
            ("RunAppDeployPreBuildHooks", lambda: self.run_hooks("prebuild", self.paths.staging, hooks)),
            ("InstallDependency", self.install_dependency),
            ("ConfigureProxy", self.configure_proxy),
            ("RunAppDeployContainerCommands", self.container_commands),
            ("RunAppDeployPreDeployHooks", lambda: self.run_hooks("predeploy", self.paths.staging, hooks)),
            ("FlipApplication", self.flip),
            ("StartApplication", self.start_application),
            ("RunAppDeployPostDeployHooks", lambda: self.run_hooks("postdeploy", self.paths.current, hooks)),
            ("HealthCheck", self.health_check),
        ]
        for name, action in steps:
            t0 = time.time()
            self.log("Executing instruction: %s" % name)
            self.progress(report_prefix, doc, name, started)
            try:
                try:
                    action()
                except Failure:
                    raise
                except Exception as e:  # a bug or an unexpected system error: still a report
                    import traceback

                    raise Failure("%s: %s" % (type(e).__name__, e), tail(traceback.format_exc()))
            except Failure as e:
                report["steps"].append({"name": name, "seconds": round(time.time() - t0, 3), "outcome": "failed"})
                report["status"] = "FAILURE"
                report["failed_step"] = name
                report["message"] = e.message
                report["output_tail"] = e.output
                self.log("An error occurred during execution of command [app-deploy] - [%s]. Stop running the command. Error: %s" % (name, e.message), "ERROR")
                if flipped or name == "FlipApplication":
                    report["rolled_back_to"] = self.roll_back(previous_state)
                else:
                    shutil.rmtree(self.paths.staging, ignore_errors=True)
                    shutil.rmtree(self.proxy_dir(staging=True), ignore_errors=True)
                    if hasattr(self, "venv_before"):
                        self.point_venv(self.venv_before and os.path.join(self.paths.venvs, self.venv_before))
                break
            report["steps"].append({"name": name, "seconds": round(time.time() - t0, 3), "outcome": "ok"})
            if name == "FlipApplication":
                flipped = True
        if report["status"] == "SUCCESS":
            self.log("Deployment %s of version %s completed successfully" % (doc["deployment_id"], doc["version"]["label"]))
        report["finished"] = now_iso()
        report["engine_seconds"] = round(time.time() - started, 3)
        self.write_report(report, report_path)
        return report

    def write_report(self, report, report_path):
        reports = os.path.join(self.paths.state, "reports")
        os.makedirs(reports, exist_ok=True)
        text = json.dumps(report, indent=2, sort_keys=True)
        if self.progress_upload is not None:
            # The report is the last word: no progress upload may land after it.
            try:
                self.progress_upload.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.progress_upload.kill()
        for path in (os.path.join(reports, "deployment-%s.json" % report["deployment_id"]), os.path.join(reports, "latest.json")):
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        if report_path:
            if report_path.startswith("s3://"):
                local = os.path.join(reports, "latest.json")
                code, out = self.run(["aws", "s3", "cp", "--only-show-errors", local, report_path], check=False)
                if code != 0:
                    self.log("Could not upload the report: %s" % tail(out, 5), "ERROR")
            else:
                with open(report_path, "w", encoding="utf-8") as f:
                    f.write(text + "\n")

    # ----- state -------------------------------------------------------------------------------

    def state_file(self, name="state.json"):
        return os.path.join(self.paths.state, name)

    def read_state(self, name="state.json"):
        try:
            with open(self.state_file(name), encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def write_state(self, state, name="state.json"):
        tmp = self.state_file(name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f, indent=2, sort_keys=True)
        os.replace(tmp, self.state_file(name))

    # ----- steps before the flip ---------------------------------------------------------------

    def fetch_version(self):
        version = self.doc["version"]
        source = version["source"]
        os.makedirs(self.paths.deployment, exist_ok=True)
        target = self.paths.bundle
        if source == "sample:":
            with zipfile.ZipFile(target, "w") as z:
                z.writestr("application.py", SAMPLE_APPLICATION)
            return
        if source.startswith("s3://"):
            self.run(["aws", "s3", "cp", "--only-show-errors", source, target], what="downloading %s" % source)
        else:
            try:
                shutil.copyfile(source, target)
            except OSError as e:
                raise Failure("cannot read the version's bundle %s: %s" % (source, e))
        digest = hashlib.sha256()
        with open(target, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        if version["sha256"] and digest.hexdigest() != version["sha256"]:
            raise Failure("the bundle's sha256 is %s, not the version's %s: it was changed after it was created" % (digest.hexdigest(), version["sha256"]))

    def stage_application(self):
        staging = self.paths.staging
        self.log("Recreating %s" % staging)
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
        real_staging = os.path.realpath(staging)
        try:
            with zipfile.ZipFile(self.paths.bundle) as z:
                for info in z.infolist():
                    name = info.filename
                    target = os.path.realpath(os.path.join(staging, name))
                    if os.path.isabs(name) or ".." in name.replace("\\", "/").split("/") or not (target == real_staging or target.startswith(real_staging + os.sep)):
                        raise Failure("the bundle entry %r would be written outside the application folder" % name)
                    mode = (info.external_attr >> 16) & 0o177777
                    if name.endswith("/"):
                        os.makedirs(target, exist_ok=True)
                        continue
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    if mode & 0o170000 == 0o120000:
                        link = z.read(info).decode("utf-8")
                        resolved = os.path.realpath(os.path.join(os.path.dirname(target), link))
                        if os.path.isabs(link) or not resolved.startswith(real_staging + os.sep):
                            raise Failure("the bundle's symbolic link %r points outside the application folder" % name)
                        os.symlink(link, target)
                        continue
                    with z.open(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    permissions = mode & 0o7777
                    os.chmod(target, permissions if permissions else 0o644)
        except (zipfile.BadZipFile, OSError) as e:
            raise Failure("cannot unzip the bundle: %s" % e)

    def resolve_secrets(self):
        """Reads the properties the document gives by reference (Secrets Manager, Parameter
        Store) with the instance's role, into memory only: their values go to the application's
        environment and nowhere else (not the log, not the report)."""
        self.secret_values = {}
        for name, ref in sorted(self.doc.get("secrets", {}).items()):
            if ref.get("store") == "ssm-parameter":
                argv = ["aws", "ssm", "get-parameter", "--name", ref["id"], "--with-decryption",
                        "--query", "Parameter.Value", "--output", "text"]
                where = "Parameter Store parameter %s" % ref["id"]
            else:
                argv = ["aws", "secretsmanager", "get-secret-value", "--secret-id", ref["id"],
                        "--query", "SecretString", "--output", "text"]
                where = "Secrets Manager secret %s" % ref["id"]
            self.log("Reading property %s from %s" % (name, where))
            try:
                proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            except OSError as e:
                raise Failure("cannot read property %s from %s: %s" % (name, where, e))
            if proc.returncode != 0:
                # The error says why (denied, not found); it holds no value.
                raise Failure("cannot read property %s from %s: does it exist, and does the instance role allow reading it?" % (name, where),
                              tail(proc.stderr.decode("utf-8", "replace"), 5))
            value = proc.stdout.decode("utf-8", "replace")
            if value.endswith("\n"):
                value = value[:-1]
            if any(ord(c) < 32 for c in value):
                raise Failure("property %s from %s is not one line of text (Elastic Beanstalk allows no multi-line values): store it encoded (e.g. base64) and decode it in the application" % (name, where))
            self.secret_values[name] = value

    def properties_env(self):
        env = dict(os.environ)
        env.update(self.doc["properties"])
        env.update(getattr(self, "secret_values", {}))
        env["PORT"] = str(self.doc["upstream_port"])
        env["EB_IS_COMMAND_LEADER"] = "true" if self.leader else "false"
        env.setdefault("HOME", "/root")
        env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        if self.rooted:
            env["BEANPOLE_ROOT"] = self.paths.root
        return env

    def prebuild_ebextension(self):
        doc = self.doc
        for package in doc["packages"]:
            spec = package["name"] + ("-" + package["version"] if package["version"] else "")
            if self.rooted or not shutil.which("dnf"):
                self.warn("%s: package %s is not installed on this machine (it is on an instance, with dnf)" % (package["file"], spec))
                continue
            self.run(["dnf", "install", "-y", spec], what="%s: installing package %s" % (package["file"], spec))
        for spec in sorted(doc["files"], key=lambda f: f["path"]):
            target = self.paths.at(spec["path"])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            data = spec["content"].encode("utf-8")
            if spec["encoding"] == "base64":
                try:
                    data = base64.b64decode(spec["content"])
                except ValueError:
                    raise Failure("%s: files.%s is not valid base64" % (spec["file"], spec["path"]))
            with open(target, "wb") as f:
                f.write(data)
            os.chmod(target, int(spec["mode"] or "644", 8) & 0o7777)
            if not self.rooted and (spec["owner"] or spec["group"]):
                try:
                    shutil.chown(target, spec["owner"] or None, spec["group"] or None)
                except (LookupError, OSError) as e:
                    raise Failure("%s: files.%s: cannot set its owner: %s" % (spec["file"], spec["path"], e))
        for command in doc["commands"]:
            self.run_command(command, "commands", self.paths.at(command["cwd"] or "/"))

    def run_command(self, command, section, cwd):
        what = "%s: %s.%s" % (command["file"], section, command["name"])
        os.makedirs(cwd, exist_ok=True)
        env = self.properties_env()
        env.update(command["env"])
        if command.get("test"):
            code, _ = self.run(command["test"], cwd=cwd, env=env, shell=True, check=False)
            if code != 0:
                self.log("%s: test exited %d, skipped" % (what, code))
                return
        line = command["command"]
        code, output = self.run(line, cwd=cwd, env=env, shell=isinstance(line, str), check=False)
        if code != 0:
            if command.get("ignore_errors"):
                self.warn("%s exited %d (ignoreErrors)" % (what, code))
            else:
                raise Failure("%s failed with exit status %d" % (what, code), tail(output))

    def run_hooks(self, stage, cwd, hooks_dir="hooks"):
        folder = os.path.join(cwd, ".platform", hooks_dir, stage)
        if not os.path.isdir(folder):
            return
        env = self.properties_env()
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                continue
            shown = ".platform/%s/%s/%s" % (hooks_dir, stage, name)
            if not os.access(path, os.X_OK):
                raise Failure("%s is not executable: run `chmod +x %s` and deploy again" % (shown, shown))
            self.log("Running platform hook: %s" % shown)
            code, output = self.run([path], cwd=cwd, env=env, log_name="eb-hooks.log", check=False)
            if code != 0:
                raise Failure("%s failed with exit status %d" % (shown, code), tail(output))

    def dependency_file(self, app):
        for name in ("requirements.txt", "Pipfile.lock", "Pipfile"):
            if os.path.isfile(os.path.join(app, name)):
                return name
        return None

    def python(self):
        wanted = "python" + self.doc["python"]
        found = shutil.which(wanted)
        if found and subprocess.run([found, "-c", "import venv"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return found
        if not self.rooted and shutil.which("dnf"):
            package = "python3" if self.doc["python"] == "3.9" else wanted
            self.run(["dnf", "install", "-y", package, package + "-pip"], what="installing %s" % package)
            found = shutil.which(wanted)
            if found:
                return found
            raise Failure("%s is not installed and dnf could not install it" % wanted)
        self.warn("%s is not on this machine: the virtualenv uses %s (Python %d.%d)" % (wanted, sys.executable, sys.version_info[0], sys.version_info[1]))
        return sys.executable

    def install_dependency(self):
        staging = self.paths.staging
        name = self.dependency_file(staging)
        content = b""
        if name:
            with open(os.path.join(staging, name), "rb") as f:
                content = f.read()
        python = self.python()
        key = hashlib.sha256(("%s\0%s\0" % (python, name)).encode() + content).hexdigest()[:16]
        venv = os.path.join(self.paths.venvs, ".beanpole-" + key)
        self.new_venv = venv
        complete = os.path.join(venv, ".beanpole-complete")
        if os.path.exists(complete):
            self.log("Dependencies unchanged (%s): reusing the virtualenv %s" % (name or "no dependency file", venv))
            self.point_venv(venv)
            return
        shutil.rmtree(venv, ignore_errors=True)
        os.makedirs(self.paths.venvs, exist_ok=True)
        self.run([python, "-m", "venv", venv], what="creating the virtualenv")
        pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "--disable-pip-version-check", "install"]
        env = dict(os.environ)
        env["VIRTUAL_ENV"] = venv
        env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env.get("PATH", "")
        if name == "requirements.txt":
            self.log("Installing dependencies with requirements.txt by using Pip")
            requirements = os.path.join(staging, "requirements.txt")
            if content.startswith(b"\xff\xfe") or content.startswith(b"\xfe\xff"):
                requirements = os.path.join(self.paths.deployment, "requirements.utf8.txt")
                with open(requirements, "w", encoding="utf-8") as f:
                    f.write(content.decode("utf-16"))
            self.run(pip + ["-r", requirements], cwd=staging, env=env, what="pip install -r requirements.txt")
        elif name in ("Pipfile.lock", "Pipfile"):
            self.log("Installing dependencies with %s by using Pipenv" % name)
            self.run(pip + ["pipenv"], cwd=staging, env=env, what="installing pipenv")
            pipenv = os.path.join(venv, "bin", "pipenv")
            if name == "Pipfile":
                self.run([pipenv, "lock"], cwd=staging, env=env, what="pipenv lock")
            _, requirements = self.run([pipenv, "requirements"], cwd=staging, env=env, what="pipenv requirements")
            path = os.path.join(self.paths.deployment, "requirements.pipenv.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write(requirements)
            self.run(pip + ["-r", path], cwd=staging, env=env, what="pip install (from %s)" % name)
        if not os.path.exists(os.path.join(venv, "bin", "gunicorn")):
            self.run(pip + ["gunicorn"], cwd=staging, env=env, what="installing gunicorn")
        with open(complete, "w") as f:
            f.write(key + "\n")
        self.point_venv(venv)

    def point_venv(self, venv):
        """Points /var/app/venv/staging-LQM1lest at `venv` (None: removes it), as EB has the
        new virtualenv there for container_commands and predeploy hooks. Running processes are
        unaffected: their scripts name the virtualenv's own folder."""
        link = self.paths.venv_link
        if not hasattr(self, "venv_before"):
            self.venv_before = os.readlink(link) if os.path.islink(link) else None
        if venv is None:
            if os.path.lexists(link):
                os.remove(link)
            return
        link_tmp = link + ".tmp"
        if os.path.lexists(link_tmp):
            os.remove(link_tmp)
        os.symlink(os.path.basename(venv), link_tmp)
        os.replace(link_tmp, link)

    # ----- the proxy ---------------------------------------------------------------------------

    def proxy_dir(self, staging=False, previous=False):
        name = "nginx" if self.doc["proxy"] == "nginx" else "httpd"
        base = os.path.join(self.paths.etc, name)
        if staging:
            return base + ".staging"
        if previous:
            return base + ".previous"
        return base

    def listen(self):
        address = self.doc.get("listen_address")
        port = self.doc["port"]
        return "%s:%d" % (address, port) if address else str(port)

    def static_mappings(self, app_dir):
        mappings = []
        for url, folder in sorted(self.doc["static_files"].items()):
            if not URL_PATH.match(url) or not BUNDLE_FOLDER.match(folder) or ".." in folder.split("/") or ".." in url.split("/"):
                raise Failure("static file mapping %s -> %s is not a URL path and a folder of the bundle" % (url, folder))
            mappings.append((url.rstrip("/") + "/", os.path.join(app_dir, folder).rstrip("/") + "/"))
        return mappings

    def configure_proxy(self):
        staging_conf = self.proxy_dir(staging=True)
        shutil.rmtree(staging_conf, ignore_errors=True)
        os.makedirs(os.path.join(staging_conf, "conf.d", "elasticbeanstalk"))
        for folder in ("nginx", "httpd", "nginx/healthd"):
            os.makedirs(self.paths.log(folder), exist_ok=True)
        if self.doc["proxy"] == "nginx":
            self.configure_nginx(staging_conf)
        else:
            self.configure_apache(staging_conf)

    def proxy_binary(self, names, package):
        for name in names:
            found = shutil.which(name) or (os.path.exists("/usr/sbin/" + name) and "/usr/sbin/" + name)
            if found:
                return found
        if not self.rooted and shutil.which("dnf"):
            self.run(["dnf", "install", "-y", package], what="installing %s" % package)
            for name in names:
                if shutil.which(name):
                    return shutil.which(name)
        raise Failure("%s is not installed on this machine: install it (Debian/Ubuntu: apt-get install %s; Amazon Linux: dnf install %s; macOS: brew install %s)" % (names[0], "nginx" if package == "nginx" else "apache2", package, package))

    def configure_nginx(self, conf):
        nginx = self.proxy_binary(["nginx"], "nginx")
        p = self.paths
        current = p.current
        for name in ("mime.types",):
            for source in (os.path.join(self.proxy_dir(), name), "/etc/nginx/" + name):
                if os.path.isfile(source):
                    shutil.copyfile(source, os.path.join(conf, name))
                    break
            else:
                with open(os.path.join(conf, name), "w") as f:
                    f.write("types {\n  text/html html htm;\n  text/css css;\n  application/javascript js;\n  application/json json;\n  image/png png;\n  image/svg+xml svg;\n  text/plain txt;\n}\n")
        temp = os.path.join(p.state, "nginx")
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(temp, sub), exist_ok=True)
        user = ""
        if os.geteuid() == 0:
            # Workers write the hourly health log themselves: give them its folder.
            worker = "nginx" if not self.rooted and _user_exists("nginx") else "nobody"
            if worker == "nginx":
                user = "user nginx;\n"
            if _user_exists(worker):
                shutil.chown(p.log("nginx/healthd"), worker)
        main = """# Elastic Beanstalk's nginx configuration for the Python platform, written by Beanpole.
%(user)serror_log %(logs)s/nginx/error.log warn;
pid %(run)s/nginx.pid;
worker_processes auto;

events {
    worker_connections 1024;
}

http {
    server_tokens off;
    include mime.types;
    default_type application/octet-stream;

    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    log_format healthd '$msec"$uri"$status"$request_time"$upstream_response_time"$http_x_forwarded_for';

    client_body_temp_path %(temp)s/body;
    proxy_temp_path %(temp)s/proxy;
    fastcgi_temp_path %(temp)s/fastcgi;
    uwsgi_temp_path %(temp)s/uwsgi;
    scgi_temp_path %(temp)s/scgi;

    include conf.d/*.conf;

    map $http_upgrade $connection_upgrade {
        default "upgrade";
    }

    server {
        listen %(listen)s default_server;
        root %(current)s;
        access_log %(logs)s/nginx/access.log main;

        client_header_timeout 60;
        client_body_timeout 60;
        keepalive_timeout 60;
        gzip off;
        gzip_comp_level 4;
        gzip_types text/plain text/css application/json application/javascript application/x-javascript text/xml application/xml application/xml+rss text/javascript;

        if ($time_iso8601 ~ "^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2})") {
            set $year $1;
            set $month $2;
            set $day $3;
            set $hour $4;
        }
        access_log %(logs)s/nginx/healthd/application.log.$year-$month-$day-$hour healthd;

        include conf.d/elasticbeanstalk/*.conf;
    }
}
""" % {"user": user, "logs": p.logs, "run": p.run, "temp": temp, "listen": self.listen(), "current": current}
        with open(os.path.join(conf, "nginx.conf"), "w") as f:
            f.write(main)
        with open(os.path.join(conf, "conf.d", "elasticbeanstalk", "00_application.conf"), "w") as f:
            f.write("""location / {
    proxy_pass          http://127.0.0.1:%d;
    proxy_http_version  1.1;

    proxy_set_header    Connection          $connection_upgrade;
    proxy_set_header    Upgrade             $http_upgrade;
    proxy_set_header    Host                $host;
    proxy_set_header    X-Real-IP           $remote_addr;
    proxy_set_header    X-Forwarded-For     $proxy_add_x_forwarded_for;
}
""" % self.doc["upstream_port"])
        with open(os.path.join(conf, "conf.d", "elasticbeanstalk", "01_static.conf"), "w") as f:
            for url, folder in self.static_mappings(current):
                f.write("location %s {\n    alias %s;\n}\n" % (url, folder))
        user_conf = os.path.join(p.staging, ".platform", "nginx")
        if os.path.isdir(user_conf):
            shutil.copytree(user_conf, conf, dirs_exist_ok=True)
        code, output = self.run([nginx, "-t", "-c", os.path.join(conf, "nginx.conf"), "-p", conf + "/", "-e", p.log("nginx/error.log")], check=False)
        if code != 0:
            raise Failure("the nginx configuration is invalid (nginx -t)", tail(output))

    def configure_apache(self, conf):
        httpd = self.proxy_binary(["httpd", "apache2"], "httpd")
        p = self.paths
        modules_dir = next((d for d in ("/etc/httpd/modules", "/usr/lib64/httpd/modules", "/usr/lib/apache2/modules", "/usr/libexec/apache2") if os.path.isdir(d)), None)
        if modules_dir is None:
            raise Failure("Apache's modules folder was not found (looked in /etc/httpd/modules and /usr/lib/apache2/modules)")
        _, built_in = self.run([httpd, "-l"], check=False)
        loaded = []
        for module in ("mpm_event", "unixd", "authz_core", "authz_host", "log_config", "mime", "dir", "alias", "headers", "proxy", "proxy_http", "setenvif"):
            path = os.path.join(modules_dir, "mod_%s.so" % module)
            if "mod_%s.c" % module in built_in:
                continue
            if os.path.exists(path):
                loaded.append("LoadModule %s_module %s" % (module, path))
            elif module in ("mpm_event", "authz_core", "log_config", "alias", "proxy", "proxy_http"):
                raise Failure("Apache module %s is missing (%s)" % (module, path))
        os.makedirs(os.path.join(conf, "conf"), exist_ok=True)
        user = ""
        if os.geteuid() == 0:
            for name in ("apache", "www-data", "nobody"):
                if _user_exists(name):
                    user = "User %s\nGroup %s\n" % (name, _primary_group(name))
                    break
        types = "TypesConfig /etc/mime.types\n" if os.path.exists("/etc/mime.types") else ""
        main = """# Elastic Beanstalk's Apache configuration for the Python platform, written by Beanpole.
# The server root (for the relative includes) is given at start: this folder.
%(modules)s
%(user)sServerName localhost
Listen %(listen)s
PidFile %(run)s/httpd.pid
DefaultRuntimeDir %(run)s
Mutex file:%(run)s default
ErrorLog %(logs)s/httpd/error_log
LogLevel warn
LogFormat "%%h %%l %%u %%t \\"%%r\\" %%>s %%b \\"%%{Referer}i\\" \\"%%{User-Agent}i\\"" combined
CustomLog %(logs)s/httpd/access_log combined
%(types)sTimeout 60
KeepAlive On
<Directory />
    AllowOverride None
    Require all denied
</Directory>

IncludeOptional conf.d/*.conf

<VirtualHost *:%(port)d>
    IncludeOptional conf.d/elasticbeanstalk/*.conf
</VirtualHost>
""" % {"conf": conf, "modules": "\n".join(loaded), "user": user, "listen": self.listen(), "run": p.run, "logs": p.logs, "types": types, "port": self.doc["port"]}
        with open(os.path.join(conf, "conf", "httpd.conf"), "w") as f:
            f.write(main)
        with open(os.path.join(conf, "conf.d", "elasticbeanstalk", "00-static.conf"), "w") as f:
            for url, folder in self.static_mappings(p.current):
                f.write('ProxyPass %s !\nAlias %s "%s"\n<Directory "%s">\n    Require all granted\n</Directory>\n' % (url, url, folder, folder))
        with open(os.path.join(conf, "conf.d", "elasticbeanstalk", "00_application.conf"), "w") as f:
            f.write("""ProxyPass / http://127.0.0.1:%(up)d/ retry=0
ProxyPassReverse / http://127.0.0.1:%(up)d/
ProxyPreserveHost on
""" % {"up": self.doc["upstream_port"]})
        user_conf = os.path.join(p.staging, ".platform", "httpd")
        if os.path.isdir(user_conf):
            shutil.copytree(user_conf, conf, dirs_exist_ok=True)
        code, output = self.run([httpd, "-t", "-d", conf, "-f", os.path.join(conf, "conf", "httpd.conf")], check=False)
        if code != 0:
            raise Failure("the Apache configuration is invalid (configtest)", tail(output))

    def container_commands(self):
        commands = self.doc["container_commands"]
        ordered = [c for c in commands if c["leader_only"]] + [c for c in commands if not c["leader_only"]]
        for command in ordered:
            if command["leader_only"] and not self.leader:
                self.log("%s: container_commands.%s is leader_only: skipped on this instance" % (command["file"], command["name"]))
                continue
            cwd = self.paths.staging if not command["cwd"] else self.paths.at(command["cwd"])
            self.run_command(command, "container_commands", cwd)

    # ----- the flip and after ------------------------------------------------------------------

    def procfile(self, app):
        path = os.path.join(app, "Procfile")
        if not os.path.isfile(path):
            return [("web", self.doc["default_web_command"])]
        processes = []
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                m = PROCFILE_LINE.match(line)
                if not m:
                    raise Failure("Procfile:%d: %r is not `name: command`" % (number, line))
                processes.append((m.group(1), m.group(2)))
        return processes

    def environment_lines(self, venv_link):
        values = dict(self.doc["properties"])
        values.update(getattr(self, "secret_values", {}))
        values["PORT"] = str(self.doc["upstream_port"])
        values["PYTHONPATH"] = os.path.join(venv_link, "bin")
        values["PATH"] = os.path.join(venv_link, "bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        lines = []
        for key in sorted(values):
            if not PROPERTY_NAME.match(key) or any(ord(c) < 32 for c in values[key]):
                raise Failure("environment property %r cannot be written to the environment file" % key)
            lines.append('%s="%s"' % (key, values[key].replace("\\", "\\\\").replace('"', '\\"')))
        return values, "\n".join(lines) + "\n"

    def flip(self):
        p = self.paths
        self.stop_processes()
        shutil.rmtree(p.previous, ignore_errors=True)
        shutil.rmtree(p.failed, ignore_errors=True)
        if os.path.isdir(p.current):
            os.rename(p.current, p.previous)
        os.rename(p.staging, p.current)
        self.point_venv(self.new_venv)
        if os.path.exists(p.env_file):
            shutil.copyfile(p.env_file, p.env_file + ".previous")
        values, text = self.environment_lines(p.venv_link)
        with open(p.env_file, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(p.env_file, 0o600)
        live, staged, previous = self.proxy_dir(), self.proxy_dir(staging=True), self.proxy_dir(previous=True)
        shutil.rmtree(previous, ignore_errors=True)
        if os.path.isdir(live):
            os.rename(live, previous)
        os.rename(staged, live)
        processes = self.procfile(p.current)
        state = {
            "label": self.doc["version"]["label"],
            "sha256": self.doc["version"]["sha256"],
            "deployment_id": self.doc["deployment_id"],
            "venv": os.path.basename(self.new_venv),
            "proxy": self.doc["proxy"],
            "processes": processes,
            "environment": values,
            "properties": self.doc["properties"],
        }
        old = self.read_state()
        if old:
            self.write_state(old, "state.previous.json")
        self.write_state(state)
        self.collect_venvs(state, old)

    def collect_venvs(self, state, old):
        keep = {state["venv"], (old or {}).get("venv")}
        for name in os.listdir(self.paths.venvs):
            if name.startswith(".beanpole-") and name not in keep:
                shutil.rmtree(os.path.join(self.paths.venvs, name), ignore_errors=True)

    def start_application(self):
        state = self.read_state()
        self.start_processes(state)
        self.start_proxy(state["proxy"])

    def health_check(self):
        """Waits for the health check path to answer as the matcher says. A deployment's
        health threshold (EB's HealthCheckSuccessThreshold) lowers the bar: the instance's health
        is Ok for a matching answer, Warning for another answer below 500, Degraded for a 5xx,
        Severe for no answer; one at or above the threshold for 3 checks in a row passes."""
        check = self.doc["health_check"]
        url = "http://127.0.0.1:%d%s" % (self.doc["port"], check["path"])
        deadline = time.time() + check["timeout_secs"]
        levels = ["ok", "warning", "degraded", "severe"]
        threshold = levels.index(check.get("threshold", "ok")) if check.get("threshold", "ok") in levels else 0
        last = "no answer"
        within = 0
        while True:
            dead = [name for name in self.process_names() if not self.process_alive(name)]
            looping = [name for name in self.process_names() if self.restarts(name) >= 2]
            if looping:
                raise Failure("the %s process keeps exiting (restarted %d times): see its log" % (looping[0], self.restarts(looping[0])), self.log_tail("%s.stdout.log" % looping[0]))
            try:
                request = urllib.request.Request(url, headers={"User-Agent": "beanpole-engine health check"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    status = response.status
            except urllib.error.HTTPError as e:
                status = e.code
            except (urllib.error.URLError, OSError) as e:
                status = None
                last = str(e)
            if status is not None:
                if _matches(check["matcher"], status):
                    self.log("Health check of %s answered %d" % (url, status))
                    return
                last = "HTTP %d" % status
            level = 3 if status is None else (2 if status >= 500 else 1)
            within = within + 1 if threshold > 0 and level <= threshold and not dead else 0
            if within >= 3:
                message = "Health check of %s answered %s: %s, which the deployment's health threshold %s accepts" % (
                    url, last, levels[level].capitalize(), levels[threshold].capitalize())
                self.log(message, "WARN")
                self.warnings.append(message)
                return
            if time.time() > deadline:
                output = self.log_tail("web.stdout.log")
                if dead:
                    raise Failure("the %s process is not running; %s answered: %s" % (", ".join(dead), url, last), output)
                raise Failure("%s answered %s, not %s, for %d s" % (url, last, check["matcher"], check["timeout_secs"]), output)
            time.sleep(0.25)

    def log_tail(self, name, lines=TAIL_LINES):
        try:
            with open(self.paths.log(name), encoding="utf-8", errors="replace") as f:
                return tail(f.read(), lines)
        except OSError:
            return ""

    def roll_back(self, previous_state):
        p = self.paths
        self.log("Rolling back to the previous version", "WARN")
        try:
            self.stop_processes()
            if not previous_state or not os.path.isdir(p.previous):
                self.log("There is no previous version to put back", "WARN")
                return None
            shutil.rmtree(p.failed, ignore_errors=True)
            if os.path.isdir(p.current):
                os.rename(p.current, p.failed)
            os.rename(p.previous, p.current)
            link_tmp = p.venv_link + ".tmp"
            if os.path.lexists(link_tmp):
                os.remove(link_tmp)
            os.symlink(previous_state["venv"], link_tmp)
            os.replace(link_tmp, p.venv_link)
            if os.path.exists(p.env_file + ".previous"):
                shutil.copyfile(p.env_file + ".previous", p.env_file)
            live, previous = self.proxy_dir(), self.proxy_dir(previous=True)
            if os.path.isdir(previous):
                shutil.rmtree(live, ignore_errors=True)
                os.rename(previous, live)
            self.write_state(previous_state)
            self.start_processes(previous_state)
            self.start_proxy(previous_state["proxy"])
            try:
                self.health_check()
            except Failure as e:
                self.log("Version %s was put back but does not answer its health check: %s" % (previous_state["label"], e.message), "ERROR")
                return None
            self.log("Rolled back to version %s" % previous_state["label"])
            return previous_state["label"]
        except (Failure, OSError) as e:
            self.log("Rollback failed: %s" % e, "ERROR")
            return None

    # ----- processes ---------------------------------------------------------------------------

    def process_names(self):
        state = self.read_state() or {}
        return [name for name, _ in state.get("processes", [])]

    def start_processes(self, state):
        p = self.paths
        procs = os.path.join(p.state, "processes")
        shutil.rmtree(procs, ignore_errors=True)
        os.makedirs(procs)
        # The processes' home (gunicorn keeps its control socket there): webapp's on an
        # instance, one per root elsewhere so that several roots never share it.
        home = p.at("/home/webapp")
        os.makedirs(home, exist_ok=True)
        for name, command in state["processes"]:
            try:
                os.remove(os.path.join(p.pids, name + ".restarts"))
            except OSError:
                pass
            env = dict(state["environment"])
            env["HOME"] = home
            spec = {"command": command, "cwd": p.current, "env": env}
            with open(os.path.join(procs, name + ".json"), "w", encoding="utf-8") as f:
                json.dump(spec, f)
            os.chmod(os.path.join(procs, name + ".json"), 0o600)
            if self.init == "systemd":
                self.start_unit(name, command)
            else:
                log = open(p.log("%s.stdout.log" % name), "ab")
                subprocess.Popen(
                    [sys.executable, os.path.abspath(__file__), "supervise", "--root", p.root, "--name", name],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                )
                log.close()
                for _ in range(100):
                    if os.path.exists(os.path.join(p.pids, name + ".pid")):
                        break
                    time.sleep(0.05)

    def start_unit(self, name, command):
        if not _user_exists("webapp"):
            self.run(["useradd", "--system", "--create-home", "--shell", "/sbin/nologin", "webapp"], what="creating the webapp user")
        self.run(["chown", "-R", "webapp:webapp", self.paths.current], what="giving /var/app/current to webapp")
        escaped = command.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
        unit = """[Unit]
Description=This is %(name)s daemon
PartOf=eb-app.target

[Service]
User=webapp
Type=simple
EnvironmentFile=/opt/elasticbeanstalk/deployment/env
ExecStart=/bin/sh -c "exec %(command)s"
Restart=always
SyslogIdentifier=%(name)s
WorkingDirectory=/var/app/current/
ExecStartPost=/bin/sh -c "systemctl show -p MainPID %(name)s.service | cut -d= -f2 > /var/pids/%(name)s.pid"
ExecStopPost=/bin/sh -c "rm -f /var/pids/%(name)s.pid"

[Install]
WantedBy=multi-user.target
""" % {"name": name, "command": escaped}
        with open(os.path.join(self.paths.systemd, name + ".service"), "w") as f:
            f.write(unit)
        with open(os.path.join(self.paths.systemd, "eb-app.target"), "w") as f:
            f.write("[Unit]\nDescription=Elastic Beanstalk application processes\n\n[Install]\nWantedBy=multi-user.target\n")
        if os.path.isdir("/etc/rsyslog.d"):
            with open("/etc/rsyslog.d/%s.conf" % name, "w") as f:
                f.write('if $programname == "%s" then /var/log/%s.stdout.log\n& stop\n' % (name, name))
        self.run(["systemctl", "daemon-reload"])
        self.run(["systemctl", "enable", name + ".service"])
        self.run(["systemctl", "restart", name + ".service"], what="starting %s.service" % name)

    def stop_processes(self):
        p = self.paths
        if self.init == "systemd":
            for name in self.process_names():
                self.run(["systemctl", "stop", name + ".service"], check=False)
            return
        for entry in os.listdir(p.pids):
            if entry.endswith(".supervisor.pid"):
                _stop_pid_file(os.path.join(p.pids, entry))

    def restarts(self, name):
        if self.init == "systemd":
            code, out = self.run(["systemctl", "show", "-p", "NRestarts", "--value", name + ".service"], check=False)
            return int(out.strip() or 0) if code == 0 and out.strip().isdigit() else 0
        return _read_pid(os.path.join(self.paths.pids, name + ".restarts")) or 0

    def process_alive(self, name):
        if self.init == "systemd":
            code, _ = self.run(["systemctl", "is-active", "--quiet", name + ".service"], check=False)
            return code == 0
        return _alive(_read_pid(os.path.join(self.paths.pids, name + ".supervisor.pid"))) and _alive(_read_pid(os.path.join(self.paths.pids, name + ".pid")))

    def proxy_command(self, proxy, action):
        """nginx or Apache, from this root's configuration: start, reload, stop or test."""
        live = os.path.join(self.paths.etc, "nginx" if proxy == "nginx" else "httpd")
        if proxy == "nginx":
            base = [self.proxy_binary(["nginx"], "nginx"), "-c", os.path.join(live, "nginx.conf"), "-p", live + "/", "-e", self.paths.log("nginx/error.log")]
            return base + {"start": [], "reload": ["-s", "reload"], "stop": ["-s", "quit"]}[action]
        base = [self.proxy_binary(["httpd", "apache2"], "httpd"), "-d", live, "-f", os.path.join(live, "conf", "httpd.conf")]
        return base + ["-k", {"start": "start", "reload": "graceful", "stop": "graceful-stop"}[action]]

    def proxy_pid_file(self, proxy):
        return os.path.join(self.paths.run, "nginx.pid" if proxy == "nginx" else "httpd.pid")

    def start_proxy(self, proxy):
        if self.init == "systemd":
            unit = "nginx" if proxy == "nginx" else "httpd"
            other = "httpd" if proxy == "nginx" else "nginx"
            self.run(["systemctl", "disable", "--now", other], check=False)
            self.run(["systemctl", "enable", unit], check=False)
            self.run(["systemctl", "reload-or-restart", unit], what="starting %s" % unit)
            return
        other = "apache" if proxy == "nginx" else "nginx"
        if _alive(_read_pid(self.proxy_pid_file(other))):
            _stop_pid_file(self.proxy_pid_file(other))
        if _alive(_read_pid(self.proxy_pid_file(proxy))):
            self.run(self.proxy_command(proxy, "reload"), what="reloading %s" % proxy)
        else:
            self.run(self.proxy_command(proxy, "start"), what="starting %s" % proxy)
            for _ in range(100):
                if _alive(_read_pid(self.proxy_pid_file(proxy))):
                    break
                time.sleep(0.05)

    def stop(self):
        self.stop_processes()
        if self.init != "systemd":
            for proxy in ("nginx", "apache"):
                _stop_pid_file(self.proxy_pid_file(proxy))

    def upload_logs(self, lines, upload_prefix):
        """The logs' last lines (whole files with --lines 0) as one JSON object in the bucket,
        where `beanpole logs` reads them."""
        body = {"instance": self.instance_id, "lines": lines, "collected": now_iso(), "logs": self.logs(lines)}
        local = os.path.join(self.paths.state, "logs-upload.json")
        with open(local, "w", encoding="utf-8") as f:
            json.dump(body, f)
        self.run(["aws", "s3", "cp", "--only-show-errors", local, self.report_path(None, upload_prefix)], what="uploading the logs")

    def logs(self, lines):
        names = ["beanpole-boot.log", "eb-engine.log", "eb-hooks.log"]
        state = self.read_state() or {}
        names += ["%s.stdout.log" % name for name, _ in state.get("processes", [["web", ""]])]
        names += ["nginx/access.log", "nginx/error.log", "httpd/access_log", "httpd/error_log"]
        out = {}
        for name in names:
            path = self.paths.log(name)
            if os.path.exists(path):
                out["/var/log/" + name] = self.log_tail(name, lines)
        return out


# ----- helpers ---------------------------------------------------------------------------------


def _matches(matcher, status):
    for part in matcher.split(","):
        if "-" in part:
            low, high = part.split("-", 1)
            if int(low) <= status <= int(high):
                return True
        elif part.strip() and int(part) == status:
            return True
    return False


def _user_exists(name):
    try:
        import pwd

        pwd.getpwnam(name)
        return True
    except (KeyError, ImportError):
        return False


def _primary_group(name):
    import grp
    import pwd

    return grp.getgrgid(pwd.getpwnam(name).pw_gid).gr_name


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def _alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _stop_pid_file(path, timeout=15):
    pid = _read_pid(path)
    if _alive(pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        deadline = time.time() + timeout
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    try:
        os.remove(path)
    except OSError:
        pass


def supervise(root, name):
    """Keeps one Procfile process running (Restart=always), until SIGTERM."""
    paths = Paths(root)
    with open(os.path.join(paths.state, "processes", name + ".json"), encoding="utf-8") as f:
        spec = json.load(f)
    pid_file = os.path.join(paths.pids, name + ".pid")
    supervisor_file = os.path.join(paths.pids, name + ".supervisor.pid")
    with open(supervisor_file, "w") as f:
        f.write("%d\n" % os.getpid())
    state = {"stop": False, "child": None}

    def on_signal(signum, frame):
        state["stop"] = True
        child = state["child"]
        if child is not None and child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except OSError:
                pass

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    env = dict(spec["env"])
    env.setdefault("HOME", os.environ.get("HOME", "/"))
    delay = 0.1
    while not state["stop"]:
        started = time.time()
        child = subprocess.Popen(["/bin/sh", "-c", "exec " + spec["command"]], cwd=spec["cwd"], env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        state["child"] = child
        with open(pid_file, "w") as f:
            f.write("%d\n" % child.pid)
        code = None
        while code is None:
            try:
                code = child.wait()
            except InterruptedError:
                continue
        if state["stop"]:
            break
        sys.stdout.write("[beanpole-engine] %s exited with status %s; restarting\n" % (name, code))
        sys.stdout.flush()
        restarts_file = os.path.join(paths.pids, name + ".restarts")
        with open(restarts_file + ".tmp", "w") as f:
            f.write("%d\n" % ((_read_pid(restarts_file) or 0) + 1))
        os.replace(restarts_file + ".tmp", restarts_file)
        delay = 0.1 if time.time() - started > 10 else min(delay * 2, 5)
        time.sleep(delay)
    child = state["child"]
    if child is not None:
        deadline = time.time() + 10
        while child.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except OSError:
                pass
            child.wait()
    for path in (pid_file, supervisor_file):
        try:
            os.remove(path)
        except OSError:
            pass


def main(argv=None):
    parser = argparse.ArgumentParser(prog="beanpole-engine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    deploy = sub.add_parser("deploy")
    deploy.add_argument("--document", required=True)
    deploy.add_argument("--leader", action="store_true")
    deploy.add_argument("--report")
    deploy.add_argument("--report-prefix", help="s3://BUCKET/PREFIX/: the report is INSTANCE.json under it, progress INSTANCE.progress.json")
    boot = sub.add_parser("boot")
    boot.add_argument("--bucket", required=True)
    boot.add_argument("--application", required=True)
    boot.add_argument("--environment", required=True)
    boot.add_argument("--sample-document", required=True)
    boot.add_argument("--report")
    boot.add_argument("--report-prefix", help="s3://BUCKET/PREFIX/: the report is INSTANCE.json under it (the instance id from the metadata service)")
    for p in [deploy, boot] + [sub.add_parser(n) for n in ("stop", "logs", "supervise")]:
        p.add_argument("--root", default="/")
        p.add_argument("--init", choices=["auto", "systemd", "engine"], default="auto")
        p.add_argument("--instance-id")
        if p.prog.endswith("logs"):
            p.add_argument("--lines", type=int, default=100, help="0: whole files")
            p.add_argument("--upload", help="s3://BUCKET/PREFIX/: upload INSTANCE.json there instead of printing")
        if p.prog.endswith("supervise"):
            p.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    os.umask(0o022)
    if args.command == "supervise":
        supervise(args.root, args.name)
        return 0
    engine = Engine(args.root, args.init, args.instance_id)
    if args.command in ("deploy", "boot"):
        if args.command == "deploy":
            report = engine.deploy(args.document, args.leader, args.report, args.report_prefix)
        else:
            report = engine.boot(args.bucket, args.application, args.environment, args.sample_document, args.report, args.report_prefix)
        print(json.dumps(report, sort_keys=True))
        return 0 if report["status"] == "SUCCESS" else 1
    if args.command == "stop":
        engine.stop()
        return 0
    if args.command == "logs":
        if args.upload:
            try:
                engine.upload_logs(args.lines, args.upload)
            except Failure as e:
                print("%s\n%s" % (e.message, e.output), file=sys.stderr)
                return 1
            return 0
        print(json.dumps(engine.logs(args.lines), indent=2))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
