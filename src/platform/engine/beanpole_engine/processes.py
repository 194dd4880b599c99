"""The application's processes: the Procfile's (or EB's default `web` gunicorn command),
supervised as EB does (systemd units `web.service`… with Restart=always on an instance; the
`supervise` command, one per process, elsewhere), restarted when they exit, stopped before a
flip. Also the proxy's process where there is no systemd."""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

from . import proxy as proxy_config
from .runner import Failure

PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(\S.*)$")


def parse_procfile(text, default_web):
    """(name, command) per process: the Procfile's lines (blank lines and `#` comments
    skipped), or EB's default `web` command without one (`text` None)."""
    if text is None:
        return [("web", default_web)]
    processes = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = PROCFILE_LINE.match(line)
        if not m:
            raise Failure("Procfile:%d: %r is not `name: command`" % (number, line))
        processes.append((m.group(1), m.group(2)))
    return processes


def read_procfile(app, default_web):
    path = os.path.join(app, "Procfile")
    if not os.path.isfile(path):
        return parse_procfile(None, default_web)
    with open(path, encoding="utf-8", errors="replace") as f:
        return parse_procfile(f.read(), default_web)


def engine_command(paths, command):
    """This engine running one of its own commands (a worker's `sqsd`), as shell text."""
    return " ".join(shlex.quote(part) for part in [sys.executable, os.path.abspath(sys.argv[0]), command, "--root", paths.root])


def daemon_unit(name, command):
    """The unit of one of the platform's daemons (a worker's sqsd): root's, with the
    platform's environment rather than the application's."""
    escaped = command.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return """[Unit]
Description=Elastic Beanstalk %(name)s daemon
After=network-online.target

[Service]
Type=simple
ExecStart=/bin/sh -c "exec %(command)s"
Restart=always
SyslogIdentifier=%(name)s
KillSignal=SIGTERM
TimeoutStopSec=600

[Install]
WantedBy=multi-user.target
""" % {"name": name, "command": escaped}


def systemd_unit(name, command):
    """EB's unit for one Procfile process."""
    escaped = command.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return """[Unit]
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


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def alive(pid):
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


def stop_pid_file(path, timeout=15):
    pid = read_pid(path)
    if alive(pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        deadline = time.time() + timeout
        while alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    try:
        os.remove(path)
    except OSError:
        pass


class Processes:
    """One instance's application processes and proxy, under systemd or the engine."""

    def __init__(self, runner, paths, init):
        self.runner = runner
        self.paths = paths
        self.init = init

    def names(self, state):
        state = state or {}
        return [name for name, _ in state.get("processes", []) + state.get("daemons", [])]

    def start(self, state):
        p = self.paths
        procs = os.path.join(p.state, "processes")
        shutil.rmtree(procs, ignore_errors=True)
        os.makedirs(procs)
        # The processes' home (gunicorn keeps its control socket there): webapp's.
        home = p.home
        os.makedirs(home, exist_ok=True)
        for name, command in state["processes"]:
            try:
                os.remove(os.path.join(p.pids, name + ".restarts"))
            except OSError:
                pass
            env = dict(state["environment"])
            env["HOME"] = home
            spec_path = os.path.join(procs, name + ".json")
            fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"command": command, "cwd": p.current, "env": env}, f)
            if self.init == "systemd":
                self.start_unit(name, command)
            else:
                self.start_supervisor(name)
        # The platform's daemons (a worker's sqsd): with the platform's environment (its
        # region, its endpoint, the instance's credentials), not the application's.
        for name, command in state.get("daemons", []):
            spec_path = os.path.join(procs, name + ".json")
            fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"command": command, "cwd": "/" if not p.rooted else p.root, "env": {}, "inherit_env": True}, f)
            if self.init == "systemd":
                with open(os.path.join(self.paths.systemd, name + ".service"), "w") as f:
                    f.write(daemon_unit(name, command))
                self.runner.run(["systemctl", "daemon-reload"])
                self.runner.run(["systemctl", "enable", name + ".service"])
                self.runner.run(["systemctl", "restart", name + ".service"], what="starting %s.service" % name)
            else:
                self.start_supervisor(name)

    def start_supervisor(self, name):
        p = self.paths
        log = open(p.log("%s.stdout.log" % name), "ab")
        subprocess.Popen(
            [sys.executable, os.path.abspath(sys.argv[0]), "supervise", "--root", p.root, "--name", name],
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
        if not proxy_config.user_exists("webapp"):
            self.runner.run(["useradd", "--system", "--create-home", "--shell", "/sbin/nologin", "webapp"], what="creating the webapp user")
        self.runner.run(["chown", "-R", "webapp:webapp", self.paths.current], what="giving /var/app/current to webapp")
        with open(os.path.join(self.paths.systemd, name + ".service"), "w") as f:
            f.write(systemd_unit(name, command))
        with open(os.path.join(self.paths.systemd, "eb-app.target"), "w") as f:
            f.write("[Unit]\nDescription=Elastic Beanstalk application processes\n\n[Install]\nWantedBy=multi-user.target\n")
        if os.path.isdir("/etc/rsyslog.d"):
            with open("/etc/rsyslog.d/%s.conf" % name, "w") as f:
                f.write('if $programname == "%s" then /var/log/%s.stdout.log\n& stop\n' % (name, name))
        self.runner.run(["systemctl", "daemon-reload"])
        self.runner.run(["systemctl", "enable", name + ".service"])
        self.runner.run(["systemctl", "restart", name + ".service"], what="starting %s.service" % name)

    def stop(self, state):
        """Stops the daemons first (a worker's sqsd finishes the requests it has in flight
        while the application still answers them), then the application's processes."""
        p = self.paths
        daemons = [name for name, _ in (state or {}).get("daemons", [])] + ["sqsd"]
        if self.init == "systemd":
            names = self.names(state)
            for name in sorted(names, key=lambda n: n not in daemons):
                self.runner.run(["systemctl", "stop", name + ".service"], check=False)
            return
        entries = [e for e in os.listdir(p.pids) if e.endswith(".supervisor.pid")]
        for entry in sorted(entries, key=lambda e: e[:-len(".supervisor.pid")] not in daemons):
            stop_pid_file(os.path.join(p.pids, entry), timeout=660 if entry[:-len(".supervisor.pid")] in daemons else 15)

    def restarts(self, name):
        if self.init == "systemd":
            code, out = self.runner.run(["systemctl", "show", "-p", "NRestarts", "--value", name + ".service"], check=False)
            return int(out.strip() or 0) if code == 0 and out.strip().isdigit() else 0
        return read_pid(os.path.join(self.paths.pids, name + ".restarts")) or 0

    def alive(self, name):
        if self.init == "systemd":
            code, _ = self.runner.run(["systemctl", "is-active", "--quiet", name + ".service"], check=False)
            return code == 0
        pids = self.paths.pids
        return alive(read_pid(os.path.join(pids, name + ".supervisor.pid"))) and alive(read_pid(os.path.join(pids, name + ".pid")))

    def start_proxy(self, proxy):
        p = self.paths
        if self.init == "systemd":
            unit = "nginx" if proxy == "nginx" else "httpd"
            other = "httpd" if proxy == "nginx" else "nginx"
            self.runner.run(["systemctl", "disable", "--now", other], check=False)
            self.runner.run(["systemctl", "enable", unit], check=False)
            self.runner.run(["systemctl", "reload-or-restart", unit], what="starting %s" % unit)
            return
        other = "apache" if proxy == "nginx" else "nginx"
        if alive(read_pid(proxy_config.pid_file(p, other))):
            stop_pid_file(proxy_config.pid_file(p, other))
        if alive(read_pid(proxy_config.pid_file(p, proxy))):
            self.runner.run(proxy_config.command(p, self.runner, proxy, "reload"), what="reloading %s" % proxy)
        else:
            self.runner.run(proxy_config.command(p, self.runner, proxy, "start"), what="starting %s" % proxy)
            for _ in range(100):
                if alive(read_pid(proxy_config.pid_file(p, proxy))):
                    break
                time.sleep(0.05)

    def stop_all(self, state):
        self.stop(state)
        if self.init != "systemd":
            for proxy in ("nginx", "apache"):
                stop_pid_file(proxy_config.pid_file(self.paths, proxy))


def supervise(paths, name):
    """Keeps one Procfile process running (Restart=always), until SIGTERM."""
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
    env = dict(os.environ) if spec.get("inherit_env") else {}
    env.update(spec["env"])
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
            f.write("%d\n" % ((read_pid(restarts_file) or 0) + 1))
        os.replace(restarts_file + ".tmp", restarts_file)
        delay = 0.1 if time.time() - started > 10 else min(delay * 2, 5)
        time.sleep(delay)
    # A daemon finishes its requests in flight (up to EB's longest InactivityTimeout it allows
    # here); an application process gets 10 s.
    end_child(state["child"], 600 if spec.get("inherit_env") else 10)
    for path in (pid_file, supervisor_file):
        try:
            os.remove(path)
        except OSError:
            pass


def end_child(child, timeout=10):
    if child is None:
        return
    deadline = time.time() + timeout
    while child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    if child.poll() is None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except OSError:
            pass
        child.wait()
