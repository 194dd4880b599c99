"""Environment properties: the document's, and those it gives by reference (Secrets Manager,
Parameter Store), read with the instance role into memory only; the environment of hooks and
commands; the environment file EB keeps at /opt/elasticbeanstalk/deployment/env. Everything
that holds a secret's value is readable by its owner only."""

import os
import re
import subprocess

from .runner import Failure, tail

PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def resolve_secrets(runner, secrets):
    """The values of the properties given by reference, by name (never logged)."""
    values = {}
    for name, ref in sorted(secrets.items()):
        if ref.get("store") == "ssm-parameter":
            argv = ["aws", "ssm", "get-parameter", "--name", ref["id"], "--with-decryption",
                    "--query", "Parameter.Value", "--output", "text"]
            where = "Parameter Store parameter %s" % ref["id"]
        else:
            argv = ["aws", "secretsmanager", "get-secret-value", "--secret-id", ref["id"],
                    "--query", "SecretString", "--output", "text"]
            where = "Secrets Manager secret %s" % ref["id"]
        runner.log("Reading property %s from %s" % (name, where))
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as e:
            raise Failure("cannot read property %s from %s: %s" % (name, where, e)) from e
        if proc.returncode != 0:
            # The error says why (denied, not found); it holds no value.
            raise Failure("cannot read property %s from %s: does it exist, and does the instance role allow reading it?" % (name, where),
                          tail(proc.stderr.decode("utf-8", "replace"), 5))
        value = proc.stdout.decode("utf-8", "replace")
        if value.endswith("\n"):
            value = value[:-1]
        if any(ord(c) < 32 for c in value):
            raise Failure("property %s from %s is not one line of text (Elastic Beanstalk allows no multi-line values): store it encoded (e.g. base64) and decode it in the application" % (name, where))
        values[name] = value
    return values


def command_environment(doc, secret_values, leader, paths, base):
    """What hooks and `.ebextensions` commands run with: the process's environment, the
    properties, PORT, EB_IS_COMMAND_LEADER."""
    env = dict(base)
    env.update(doc["properties"])
    env.update(secret_values)
    env["PORT"] = str(doc["upstream_port"])
    env["EB_IS_COMMAND_LEADER"] = "true" if leader else "false"
    env.setdefault("HOME", "/root")
    env.setdefault("PATH", DEFAULT_PATH)
    if paths.rooted:
        env["BEANPOLE_ROOT"] = paths.root
    shim = sudo_shim(paths, env["PATH"])
    if shim:
        env["PATH"] = shim + ":" + env["PATH"]
    return env


SUDO_SHIM = """#!/bin/sh
# Amazon Linux 2023's sudo, as root uses it: EB runs hooks and commands as root, so `sudo`
# (with -E, -H, -n, -S, or -u root) runs the command as it is. Another user is refused.
while [ $# -gt 0 ]; do
  case "$1" in
    -E|-H|-n|-S|--preserve-env|--non-interactive|--stdin|--set-home) shift ;;
    -u|--user)
      if [ "$2" != root ] && [ "$2" != 0 ] && [ "$2" != "#0" ]; then
        echo "sudo: this instance is played on a developer's machine, where commands run as root only (not as $2)" >&2
        exit 1
      fi
      shift 2 ;;
    --) shift; break ;;
    -*) echo "sudo: option $1 is not supported here" >&2; exit 1 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: sudo COMMAND [ARG...]" >&2; exit 1; }
exec "$@"
"""


def sudo_shim(paths, path):
    """Where a local instance (a developer's machine playing it, which may have no sudo)
    finds the `sudo` every Amazon Linux 2023 instance has; None on an instance, or where
    the machine has one."""
    if not paths.local:
        return None
    if any(os.access(os.path.join(d, "sudo"), os.X_OK) for d in path.split(":") if d):
        return None
    folder = paths.at("/opt/beanpole/bin")
    target = os.path.join(folder, "sudo")
    if not os.path.exists(target):
        os.makedirs(folder, exist_ok=True)
        with open(target + ".tmp", "w", encoding="utf-8") as f:
            f.write(SUDO_SHIM)
        os.chmod(target + ".tmp", 0o755)
        os.replace(target + ".tmp", target)
    # The folder as the command sees it: in a view the instance's paths are its own.
    return "/opt/beanpole/bin" if not paths.rooted else folder


def process_environment(properties, secret_values, upstream_port, venv_link):
    """The application processes' environment, as EB's environment file has it: the
    properties, PORT, PYTHONPATH and PATH on the virtualenv."""
    values = {"PYTHONPATH": os.path.join(venv_link, "bin")}
    # A PYTHONPATH property is the user's: EB keeps it.
    values.update(properties)
    values.update(secret_values)
    values["PORT"] = str(upstream_port)
    values["PATH"] = os.path.join(venv_link, "bin") + ":" + DEFAULT_PATH
    return values


def environment_file(values):
    """The environment file's text, `NAME="value"` per line; a name or value that cannot be
    written is a failure."""
    lines = []
    for key in sorted(values):
        if not PROPERTY_NAME.match(key) or any(ord(c) < 32 for c in values[key]):
            raise Failure("environment property %r cannot be written to the environment file" % key)
        lines.append('%s="%s"' % (key, values[key].replace("\\", "\\\\").replace('"', '\\"')))
    return "\n".join(lines) + "\n"


def write_private(path, text):
    """A file only its owner can read, written whole."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def copy_private(source, target):
    """A copy readable by its owner only (the previous environment file)."""
    with open(source, encoding="utf-8") as f:
        write_private(target, f.read())
