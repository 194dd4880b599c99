"""One instance's deployments: the steps in Elastic Beanstalk's order, one function each and
named after EB's, with every step's outcome in the report. Everything before the flip works on
staging copies (application folder, virtualenv, proxy configuration); a failure there
discards them. After the flip, a failure puts the previous version's folder, virtualenv,
environment file and proxy configuration back and checks that it answers. Also: an
instance's first boot (what its environment runs, else the sample application), stopping
what the engine started, and the platform's logs."""

import json
import os
import shutil
import socket
import time
import traceback
import urllib.request

from . import bucket, bundle, documents, ebextensions, getconfig, health, hooks, properties, sqsd
from . import processes as processes_module
from . import SCHEMA
from .dependencies import Virtualenvs, replace_link
from .paths import Paths
from .processes import Processes, read_procfile
from .proxy import Proxy
from .runner import Failure, Runner, now_iso, tail

LOG_NAMES = ["beanpole-boot.log", "eb-engine.log", "eb-hooks.log", "aws-sqsd/default.log"]
PROXY_LOGS = ["nginx/access.log", "nginx/error.log", "httpd/access_log", "httpd/error_log"]


class Engine:
    def __init__(self, root, init="auto", instance_id=None):
        self.paths = Paths(root)
        has_systemd = os.path.isdir("/run/systemd/system") and shutil.which("systemctl")
        if init == "auto":
            init = "systemd" if (not self.paths.local and has_systemd) else "engine"
        self.runner = Runner(self.paths)
        self.processes = Processes(self.runner, self.paths, init)
        self.instance_id = instance_id or self.own_instance_id()
        self.progress_upload = None
        for d in (self.paths.state, self.paths.pids, self.paths.run):
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
        if not self.paths.local:
            value = metadata_instance_id()
            if value:
                os.makedirs(os.path.dirname(recorded), exist_ok=True)
                with open(recorded, "w", encoding="utf-8") as f:
                    f.write(value + "\n")
                return value
        return socket.gethostname()

    # ----- state ---------------------------------------------------------------------------

    def state_file(self, name="state.json"):
        return os.path.join(self.paths.state, name)

    def read_state(self, name="state.json"):
        try:
            with open(self.state_file(name), encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def write_state(self, state, name="state.json"):
        # It holds the processes' environment, secrets' values among them: its owner's only.
        documents.write_json(self.state_file(name), state, mode=0o600)

    # ----- one deployment at a time, and what a killed one left ----------------------------

    def lock(self):
        """One deployment at a time per root: a second one waits for the first."""
        import fcntl

        handle = open(os.path.join(self.paths.state, "engine.lock"), "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.runner.log("Waiting for the deployment in progress on this instance to end")
            fcntl.flock(handle, fcntl.LOCK_EX)
        return handle

    def recover(self):
        """Finishes what a killed engine left half done: a flip stopped between moving the
        running version aside and putting the new one in place puts the running one back."""
        p = self.paths
        if not os.path.isdir(p.current) and os.path.isdir(p.previous):
            self.runner.log("An interrupted flip left no current version: putting the previous one back", "WARN")
            os.rename(p.previous, p.current)
        for kind in ("nginx", "apache"):
            Proxy(self.runner, p, kind).recover()

    # ----- boot ----------------------------------------------------------------------------

    def boot(self, bucket_name, application, environment, sample_document, report_path=None, report_prefix=None):
        """What the environment runs now, from its pointer in the versions bucket, else the
        sample application (an environment that has no version yet still passes its health
        check, as on Elastic Beanstalk)."""
        p = self.paths
        os.makedirs(p.deployment, exist_ok=True)
        pointer_key = "%s/environments/%s/current.json" % (application, environment)
        local_pointer = os.path.join(p.deployment, "current.json")
        code, output = 1, ""
        # A deployment's temporary group (immutable, traffic splitting) has a pointer of its
        # own: its instances boot the new version straight away.
        group = bucket.own_group(self.runner, self.instance_id)
        if group:
            group_key = "%s/environments/%s/groups/%s.json" % (application, environment, group)
            code, output = bucket.fetch(self.runner, "s3://%s/%s" % (bucket_name, group_key), local_pointer, check=False)
            if code == 0:
                self.runner.log("Group %s has a pointer of its own" % group)
        if code != 0:
            code, output = bucket.fetch(self.runner, "s3://%s/%s" % (bucket_name, pointer_key), local_pointer, check=False)
        document = sample_document
        if code == 0:
            with open(local_pointer, encoding="utf-8") as f:
                pointer = json.load(f)
            document = os.path.join(p.deployment, "boot-document.json")
            bucket.fetch(self.runner, "s3://%s/%s" % (bucket_name, pointer["document"]), document, what="fetching the deployment document")
            self.runner.log("Booting into version %s (deployment %s)" % (pointer["label"], pointer["deployment_id"]))
        elif bucket.missing(output):
            self.runner.log("No version deployed to %s yet: serving the sample application" % environment)
        else:
            raise SystemExit("cannot read s3://%s/%s: %s" % (bucket_name, pointer_key, bucket.short(output)))
        return self.deploy(document, False, report_path, report_prefix)

    # ----- a deployment --------------------------------------------------------------------

    def fetch_document(self, document_path):
        """A deployment document from the versions bucket (Run Command names it by its key)."""
        if not document_path.startswith("s3://"):
            return document_path
        os.makedirs(self.paths.deployment, exist_ok=True)
        local = os.path.join(self.paths.deployment, "deployment-document.json")
        bucket.fetch(self.runner, document_path, local, what="fetching the deployment document %s" % document_path)
        return local

    def report_path(self, report_path, report_prefix, suffix=".json"):
        if report_prefix:
            return report_prefix.rstrip("/") + "/" + self.instance_id + suffix
        return report_path

    def progress(self, report_prefix, step, started):
        """Says which step runs now, beside the report, without waiting for the upload (the
        deploying command shows it); one upload at a time, the last one wins."""
        if not report_prefix:
            return
        if self.progress_upload is not None and self.progress_upload.poll() is None:
            return
        local = os.path.join(self.paths.state, "progress.json")
        documents.write_json(local, documents.progress(self.instance_id, self.doc["deployment_id"], step, time.time() - started))
        self.progress_upload = bucket.upload_in_background(local, self.report_path(None, report_prefix, ".progress.json"))

    def load(self, document_path):
        with open(self.fetch_document(document_path), encoding="utf-8") as f:
            doc = json.load(f)
        if doc.get("schema") != SCHEMA:
            raise SystemExit("this engine reads deployment documents of schema %d" % SCHEMA)
        if self.paths.local:
            # Beanpole's local fleet plays many instances on one machine: each its own ports.
            doc = documents.for_this_machine(doc, os.environ)
        return doc

    def steps(self, hooks_dir):
        """The deployment's steps, in Elastic Beanstalk's order."""
        return [
            ("FetchVersion", self.fetch_version),
            ("ResolveSecrets", self.resolve_secrets),
            ("StageApplication", self.stage_application),
            ("PreBuildEbExtension", self.prebuild_ebextension),
            ("RunAppDeployPreBuildHooks", lambda: self.run_hooks("prebuild", self.paths.staging, hooks_dir)),
            ("InstallDependency", self.install_dependency),
            ("ConfigureProxy", self.configure_proxy),
            ("RunAppDeployContainerCommands", self.container_commands),
            ("RunAppDeployPreDeployHooks", lambda: self.run_hooks("predeploy", self.paths.staging, hooks_dir)),
            ("FlipApplication", self.flip),
            ("StartApplication", self.start_application),
            ("RunAppDeployPostDeployHooks", lambda: self.run_hooks("postdeploy", self.paths.current, hooks_dir)),
            ("HealthCheck", self.health_check),
        ]

    def deploy(self, document_path, leader, report_path=None, report_prefix=None):
        """One deployment, under the instance's engine lock; its report."""
        handle = self.lock()
        try:
            return self.deploy_locked(document_path, leader, report_path, report_prefix)
        finally:
            handle.close()

    def deploy_locked(self, document_path, leader, report_path, report_prefix):
        started = time.time()
        self.recover()
        report_path = self.report_path(report_path, report_prefix)
        self.leader = leader
        try:
            self.doc = self.load(document_path)
        except (Failure, OSError, ValueError) as e:
            report = documents.failed_fetch_report(self.instance_id, leader, getattr(e, "message", str(e)), getattr(e, "output", ""), started)
            report["warnings"] = self.runner.warnings
            self.write_report(report, report_path)
            return report
        doc = self.doc
        report = documents.new_report(self.instance_id, doc, leader)
        report["warnings"] = self.runner.warnings
        self.runner.log("Starting deployment %s of version %s" % (doc["deployment_id"], doc["version"]["label"]))
        self.secret_values = {}
        self.venvs = Virtualenvs(self.runner, self.paths, doc["python"])
        self.proxy = Proxy(self.runner, self.paths, doc["proxy"])
        previous_state = self.read_state()
        # A configuration deployment (the same version, new settings: properties, proxy,
        # static files, WSGI) runs .platform/confighooks instead of .platform/hooks, as on
        # Elastic Beanstalk.
        self.run_steps(report, report_prefix, "confighooks" if doc.get("configuration") else "hooks", previous_state, started)
        if report["status"] == "SUCCESS":
            self.runner.log("Deployment %s of version %s completed successfully" % (doc["deployment_id"], doc["version"]["label"]))
        report["finished"] = now_iso()
        report["engine_seconds"] = round(time.time() - started, 3)
        self.write_report(report, report_path)
        return report

    def run_steps(self, report, report_prefix, hooks_dir, previous_state, started):
        flipped = False
        for name, action in self.steps(hooks_dir):
            t0 = time.time()
            self.runner.log("Executing instruction: %s" % name)
            self.progress(report_prefix, name, started)
            try:
                try:
                    action()
                except Failure:
                    raise
                except Exception as e:  # a bug or an unexpected system error: still a report
                    raise Failure("%s: %s" % (type(e).__name__, e), tail(traceback.format_exc())) from e
            except Failure as e:
                report["steps"].append(documents.step(name, time.time() - t0, False))
                report["status"] = "FAILURE"
                report["failed_step"] = name
                report["message"] = e.message
                report["output_tail"] = e.output
                self.runner.log("An error occurred during execution of command [app-deploy] - [%s]. Stop running the command. Error: %s" % (name, e.message), "ERROR")
                if flipped or name == "FlipApplication":
                    report["rolled_back_to"] = self.roll_back(previous_state)
                else:
                    self.discard_staging()
                return
            report["steps"].append(documents.step(name, time.time() - t0, True))
            if name == "FlipApplication":
                flipped = True

    def discard_staging(self):
        """A failure before the flip: the staging copies go, the virtualenv link as it was."""
        shutil.rmtree(self.paths.staging, ignore_errors=True)
        self.proxy.discard_staging()
        self.venvs.put_back()

    def write_report(self, report, report_path):
        reports = os.path.join(self.paths.state, "reports")
        os.makedirs(reports, exist_ok=True)
        if self.progress_upload is not None:
            # The report is the last word: no progress upload may land after it.
            try:
                self.progress_upload.wait(timeout=30)
            except Exception:
                self.progress_upload.kill()
        for name in ("deployment-%s.json" % report["deployment_id"], "latest.json"):
            documents.write_json(os.path.join(reports, name), report)
        if report_path:
            if report_path.startswith("s3://"):
                code, out = bucket.upload(self.runner, os.path.join(reports, "latest.json"), report_path, check=False)
                if code != 0:
                    self.runner.log("Could not upload the report: %s" % bucket.short(out), "ERROR")
            else:
                documents.write_json(report_path, report)

    # ----- the steps -----------------------------------------------------------------------

    def fetch_version(self):
        bundle.fetch_version(self.runner, self.paths, self.doc["version"])

    def resolve_secrets(self):
        """Reads the properties the document gives by reference, into memory only: their values
        go to the application's environment and nowhere else (not the log, not the report)."""
        self.secret_values = properties.resolve_secrets(self.runner, self.doc.get("secrets", {}))
        # EB's get-config answers this deployment's settings from here on (hooks call it).
        getconfig.install(self.doc, self.secret_values, self.paths)

    def stage_application(self):
        bundle.stage_application(self.runner, self.paths)

    def command_environment(self):
        return properties.command_environment(self.doc, self.secret_values, self.leader, self.paths, os.environ)

    def prebuild_ebextension(self):
        doc = self.doc
        ebextensions.install_packages(self.runner, self.paths, doc["packages"])
        ebextensions.write_files(self.paths, doc["files"], self.runner)
        for command in doc["commands"]:
            ebextensions.run_command(self.runner, command, "commands", self.paths.at(command["cwd"] or "/"), self.command_environment())

    def run_hooks(self, stage, cwd, hooks_dir):
        hooks.run_hooks(self.runner, cwd, hooks_dir, stage, self.command_environment())

    def install_dependency(self):
        self.venvs.install(self.paths.staging)

    def configure_proxy(self):
        self.proxy.configure(self.doc)

    def container_commands(self):
        for command, runs in ebextensions.container_command_order(self.doc["container_commands"], self.leader):
            if not runs:
                self.runner.log("%s: container_commands.%s is leader_only: skipped on this instance" % (command["file"], command["name"]))
                continue
            cwd = self.paths.staging if not command["cwd"] else self.paths.at(command["cwd"])
            ebextensions.run_command(self.runner, command, "container_commands", cwd, self.command_environment())

    def flip(self):
        p = self.paths
        old = self.read_state()
        self.processes.stop(old)
        shutil.rmtree(p.previous, ignore_errors=True)
        shutil.rmtree(p.failed, ignore_errors=True)
        if os.path.isdir(p.current):
            os.rename(p.current, p.previous)
        os.rename(p.staging, p.current)
        self.venvs.point(self.venvs.new)
        if os.path.exists(p.env_file):
            properties.copy_private(p.env_file, p.env_file + ".previous")
        values = properties.process_environment(self.doc["properties"], self.secret_values, self.doc["upstream_port"], p.venv_link)
        properties.write_private(p.env_file, properties.environment_file(values))
        self.proxy.flip()
        state = {
            "label": self.doc["version"]["label"],
            "sha256": self.doc["version"]["sha256"],
            "deployment_id": self.doc["deployment_id"],
            "venv": os.path.basename(self.venvs.new),
            "proxy": self.doc["proxy"],
            "processes": read_procfile(p.current, self.doc["default_web_command"]),
            "environment": values,
            "properties": self.doc["properties"],
            "daemons": self.worker_daemon(),
        }
        if old:
            self.write_state(old, "state.previous.json")
        self.write_state(state)
        self.venvs.collect({state["venv"], (old or {}).get("venv")})

    def worker_daemon(self):
        """A worker's daemon: its configuration written where EB keeps sqsd's; the process
        the engine supervises beside the application's (none for the web tier)."""
        worker = self.doc.get("worker")
        if not worker or not worker.get("queue_url"):
            return []
        config = dict(worker)
        config["port"] = self.doc["port"]
        config["host"] = "127.0.0.1"
        config["instance_id"] = self.instance_id
        os.makedirs(os.path.dirname(self.paths.at(sqsd.CONFIG)), exist_ok=True)
        documents.write_json(self.paths.at(sqsd.CONFIG), config)
        return [["sqsd", processes_module.engine_command(self.paths, "sqsd")]]

    def start_application(self):
        state = self.read_state()
        self.processes.start(state)
        self.processes.start_proxy(state["proxy"])

    def health_check(self):
        health.check(self.runner, self.processes, self.read_state(), self.doc)

    def roll_back(self, previous_state):
        """After a failure past the flip: the previous version back, answering; its label."""
        p = self.paths
        self.runner.log("Rolling back to the previous version", "WARN")
        try:
            self.processes.stop(self.read_state())
            if not previous_state or not os.path.isdir(p.previous):
                self.runner.log("There is no previous version to put back", "WARN")
                return None
            shutil.rmtree(p.failed, ignore_errors=True)
            if os.path.isdir(p.current):
                os.rename(p.current, p.failed)
            os.rename(p.previous, p.current)
            replace_link(p.venv_link, previous_state["venv"])
            if os.path.exists(p.env_file + ".previous"):
                properties.copy_private(p.env_file + ".previous", p.env_file)
            self.proxy.put_back()
            self.write_state(previous_state)
            self.processes.start(previous_state)
            self.processes.start_proxy(previous_state["proxy"])
            try:
                self.health_check()
            except Failure as e:
                self.runner.log("Version %s was put back but does not answer its health check: %s" % (previous_state["label"], e.message), "ERROR")
                return None
            self.runner.log("Rolled back to version %s" % previous_state["label"])
            return previous_state["label"]
        except (Failure, OSError) as e:
            self.runner.log("Rollback failed: %s" % e, "ERROR")
            return None

    # ----- stop and logs -------------------------------------------------------------------

    def stop(self):
        self.processes.stop_all(self.read_state())

    def logs(self, lines):
        """The last `lines` lines of each platform log (whole files with 0), by instance path."""
        state = self.read_state() or {}
        names = LOG_NAMES + ["%s.stdout.log" % name for name, _ in state.get("processes", [["web", ""]])] + PROXY_LOGS
        out = {}
        for name in names:
            if os.path.exists(self.paths.log(name)):
                out["/var/log/" + name] = self.runner.log_tail(name, lines)
        return out

    def upload_logs(self, lines, upload_prefix):
        """The logs as one JSON object in the bucket, where `beanpole logs` reads them."""
        body = {"instance": self.instance_id, "lines": lines, "collected": now_iso(), "logs": self.logs(lines)}
        local = os.path.join(self.paths.state, "logs-upload.json")
        documents.write_json(local, body, mode=0o600)
        bucket.upload(self.runner, local, self.report_path(None, upload_prefix), what="uploading the logs")


def metadata_instance_id():
    """The instance id from the instance metadata service (IMDSv2), or None."""
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
        return urllib.request.urlopen(id_request, timeout=2).read().decode().strip() or None
    except (OSError, ValueError):
        return None
