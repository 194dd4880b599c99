"""What a bundle's `.ebextensions` ask of the instance, in Elastic Beanstalk's order:
packages, then files, then commands (PreBuildEbExtension); `container_commands` later, from
the staged application, the leader's `leader_only` ones first."""

import base64
import errno
import os
import shutil

from .paths import OWN_FOLDERS
from .runner import Failure, tail


def install_packages(runner, paths, packages):
    for package in packages:
        spec = package["name"] + ("-" + package["version"] if package["version"] else "")
        if paths.local or not shutil.which("dnf"):
            runner.warn("%s: package %s is not installed on this machine (it is on an instance, with dnf)" % (package["file"], spec))
            continue
        runner.run(["dnf", "install", "-y", spec], what="%s: installing package %s" % (package["file"], spec))


def file_bytes(spec):
    """A `files:` entry's content as bytes (base64 decoded when it says so)."""
    if spec["encoding"] == "base64":
        try:
            return base64.b64decode(spec["content"])
        except ValueError:
            raise Failure("%s: files.%s is not valid base64" % (spec["file"], spec["path"])) from None
    return spec["content"].encode("utf-8")


def write_files(paths, files, runner=None):
    """`files:` entries, in lexicographic order of their paths."""
    for spec in sorted(files, key=lambda f: f["path"]):
        target = paths.at(spec["path"])
        data = file_bytes(spec)
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
        except OSError as e:
            if e.errno == errno.EROFS and paths.view:
                raise Failure(
                    "%s: files.%s: this machine's %s is read-only to the instances Beanpole plays here "
                    "(each has its own %s; the rest of the host is protected): on an EC2 instance the file "
                    "would be written; to use it locally, write it under one of those folders"
                    % (spec["file"], spec["path"], os.path.dirname(spec["path"]), ", ".join(OWN_FOLDERS))
                ) from None
            raise Failure("%s: files.%s: cannot write it: %s" % (spec["file"], spec["path"], e)) from None
        os.chmod(target, int(spec["mode"] or "644", 8) & 0o7777)
        if spec["owner"] or spec["group"]:
            try:
                shutil.chown(target, spec["owner"] or None, spec["group"] or None)
            except LookupError as e:
                if not paths.local:
                    raise Failure("%s: files.%s: cannot set its owner: %s" % (spec["file"], spec["path"], e)) from e
                # This machine lacks the instance's users (EB's webapp; nginx, apache): said, kept.
                if runner is not None:
                    runner.warn("%s: files.%s: owner %s, group %s: %s on this machine; on an instance EB creates webapp, and nginx and apache exist: the file keeps this machine's owner here"
                                % (spec["file"], spec["path"], spec["owner"] or "-", spec["group"] or "-", e))
            except OSError as e:
                raise Failure("%s: files.%s: cannot set its owner: %s" % (spec["file"], spec["path"], e)) from e


def container_command_order(commands, leader):
    """The container commands this instance runs, in order: on the leader its `leader_only`
    ones first, then the others (each group in the document's order, which is by name); the
    `leader_only` ones are skipped elsewhere. (command, runs) pairs: a skipped one is logged."""
    ordered = [c for c in commands if c["leader_only"]] + [c for c in commands if not c["leader_only"]]
    return [(c, leader or not c["leader_only"]) for c in ordered]


def run_command(runner, command, section, cwd, env):
    """One `commands` or `container_commands` entry: its `test` first, `ignoreErrors` kept."""
    what = "%s: %s.%s" % (command["file"], section, command["name"])
    os.makedirs(cwd, exist_ok=True)
    env = dict(env)
    env.update(command["env"])
    if command.get("test"):
        code, _ = runner.run(command["test"], cwd=cwd, env=env, shell=True, check=False)
        if code != 0:
            runner.log("%s: test exited %d, skipped" % (what, code))
            return
    line = command["command"]
    code, output = runner.run(line, cwd=cwd, env=env, shell=isinstance(line, str), check=False)
    if code != 0:
        if command.get("ignore_errors"):
            runner.warn("%s exited %d (ignoreErrors)" % (what, code))
        else:
            raise Failure("%s failed with exit status %d" % (what, code), tail(output))
