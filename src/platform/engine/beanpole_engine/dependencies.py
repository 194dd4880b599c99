"""The application's virtualenv (`/var/app/venv/staging-LQM1lest`) and its dependencies from
`requirements.txt` (or `Pipfile.lock`, `Pipfile`), with gunicorn. A virtualenv is kept per
(interpreter, dependency file): an unchanged file reuses it, so a code-only deploy installs
nothing."""

import hashlib
import os
import shutil
import subprocess
import sys

from .runner import Failure

DEPENDENCY_FILES = ("requirements.txt", "Pipfile.lock", "Pipfile")


def dependency_file(app):
    for name in DEPENDENCY_FILES:
        if os.path.isfile(os.path.join(app, name)):
            return name
    return None


def venv_key(python, name, content):
    """The virtualenv's name for an interpreter and a dependency file's content."""
    return ".beanpole-" + hashlib.sha256(("%s\0%s\0" % (python, name)).encode() + content).hexdigest()[:16]


def requirements_text(content):
    """requirements.txt as pip reads it: UTF-16 with a byte-order mark is re-encoded to UTF-8
    (None: use the file as it is)."""
    if content.startswith(b"\xff\xfe") or content.startswith(b"\xfe\xff"):
        return content.decode("utf-16")
    return None


class Virtualenvs:
    """The virtualenvs under /var/app/venv and the link EB's paths name."""

    def __init__(self, runner, paths, python_version):
        self.runner = runner
        self.paths = paths
        self.python_version = python_version
        self.before = None
        self.pointed = False
        self.new = None

    def python(self):
        wanted = "python" + self.python_version
        found = shutil.which(wanted)
        if found and subprocess.run([found, "-c", "import venv"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return found
        if not self.paths.local and shutil.which("dnf"):
            package = "python3" if self.python_version == "3.9" else wanted
            self.runner.run(["dnf", "install", "-y", package, package + "-pip"], what="installing %s" % package)
            found = shutil.which(wanted)
            if found:
                return found
            raise Failure("%s is not installed and dnf could not install it" % wanted)
        self.runner.warn("%s is not on this machine: the virtualenv uses %s (Python %d.%d)" % (wanted, sys.executable, sys.version_info[0], sys.version_info[1]))
        return sys.executable

    def install(self, staging):
        name = dependency_file(staging)
        content = b""
        if name:
            with open(os.path.join(staging, name), "rb") as f:
                content = f.read()
        python = self.python()
        venv = os.path.join(self.paths.venvs, venv_key(python, name, content))
        self.new = venv
        complete = os.path.join(venv, ".beanpole-complete")
        if os.path.exists(complete):
            self.runner.log("Dependencies unchanged (%s): reusing the virtualenv %s" % (name or "no dependency file", venv))
            self.point(venv)
            return
        shutil.rmtree(venv, ignore_errors=True)
        os.makedirs(self.paths.venvs, exist_ok=True)
        self.runner.run([python, "-m", "venv", venv], what="creating the virtualenv")
        pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "--disable-pip-version-check", "install"]
        env = dict(os.environ)
        env["VIRTUAL_ENV"] = venv
        env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env.get("PATH", "")
        if name == "requirements.txt":
            self.runner.log("Installing dependencies with requirements.txt by using Pip")
            requirements = os.path.join(staging, "requirements.txt")
            text = requirements_text(content)
            if text is not None:
                requirements = os.path.join(self.paths.deployment, "requirements.utf8.txt")
                with open(requirements, "w", encoding="utf-8") as f:
                    f.write(text)
            self.runner.run(pip + ["-r", requirements], cwd=staging, env=env, what="pip install -r requirements.txt")
        elif name in ("Pipfile.lock", "Pipfile"):
            self.install_pipenv(name, staging, venv, pip, env)
        if not os.path.exists(os.path.join(venv, "bin", "gunicorn")):
            self.runner.run(pip + ["gunicorn"], cwd=staging, env=env, what="installing gunicorn")
        with open(complete, "w") as f:
            f.write(os.path.basename(venv) + "\n")
        self.point(venv)

    def install_pipenv(self, name, staging, venv, pip, env):
        self.runner.log("Installing dependencies with %s by using Pipenv" % name)
        self.runner.run(pip + ["pipenv"], cwd=staging, env=env, what="installing pipenv")
        pipenv = os.path.join(venv, "bin", "pipenv")
        if name == "Pipfile":
            self.runner.run([pipenv, "lock"], cwd=staging, env=env, what="pipenv lock")
        _, requirements = self.runner.run([pipenv, "requirements"], cwd=staging, env=env, what="pipenv requirements")
        path = os.path.join(self.paths.deployment, "requirements.pipenv.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(requirements)
        self.runner.run(pip + ["-r", path], cwd=staging, env=env, what="pip install (from %s)" % name)

    def point(self, venv):
        """Points /var/app/venv/staging-LQM1lest at `venv` (None: removes it), as EB has the
        new virtualenv there for container_commands and predeploy hooks. Running processes are
        unaffected: their scripts name the virtualenv's own folder."""
        link = self.paths.venv_link
        if not self.pointed:
            self.before = os.readlink(link) if os.path.islink(link) else None
            self.pointed = True
        if venv is None:
            if os.path.lexists(link):
                os.remove(link)
            return
        replace_link(link, os.path.basename(venv))

    def put_back(self):
        """The link as it was before this deployment (a failure before the flip)."""
        if self.pointed:
            self.point(self.before and os.path.join(self.paths.venvs, self.before))

    def collect(self, keep):
        """Deletes the virtualenvs no state names any more."""
        for name in os.listdir(self.paths.venvs):
            if name.startswith(".beanpole-") and name not in keep:
                shutil.rmtree(os.path.join(self.paths.venvs, name), ignore_errors=True)


def replace_link(link, target):
    """Points `link` at `target` in one rename."""
    tmp = link + ".tmp"
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link)
