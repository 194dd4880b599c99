"""Elastic Beanstalk's paths on an instance. On an instance the root is `/`; on a developer's
machine and in Beanpole's local fleet the same tree lives under a folder (`--root`)."""

import os

# The virtualenv's name on EB's Python platform: undocumented, and constant.
VENV_NAME = "staging-LQM1lest"

TABLE = {
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
    "home": "/home/webapp",
}


class Paths:
    def __init__(self, root):
        self.root = os.path.abspath(root)

    @property
    def rooted(self):
        """Whether the tree lives under a folder rather than at `/`."""
        return self.root != "/"

    def at(self, absolute):
        """Where an instance's absolute path is on this machine."""
        if self.root == "/":
            return absolute
        return os.path.join(self.root, absolute.lstrip("/"))

    def __getattr__(self, name):
        if name in TABLE:
            return self.at(TABLE[name])
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
