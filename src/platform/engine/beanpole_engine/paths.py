"""Elastic Beanstalk's paths on an instance. On an instance the root is `/`. Beanpole's local
fleet and `local run` play an instance on a developer's machine in a private filesystem view
(EB's paths are the instance's own folders, the rest of the host read-only), where the root is
`/` too and `BEANPOLE_INSTANCE_VIEW=1` says the machine is not an instance; where such views
are not available, the same tree lives under a folder (`--root`)."""

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


# The folders that are an instance's own in the local view (Rust's `ops::view::PRIVATE`).
OWN_FOLDERS = [
    "/var/app",
    "/var/log",
    "/var/pids",
    "/var/lib/beanpole",
    "/opt/elasticbeanstalk",
    "/opt/beanpole",
    "/etc/nginx",
    "/etc/httpd",
    "/etc/cron.d",
    "/etc/aws-sqsd.d",
    "/home/webapp",
    "/tmp",
    "/run",
]


class Paths:
    def __init__(self, root, view=None):
        self.root = os.path.abspath(root)
        self.view = os.environ.get("BEANPOLE_INSTANCE_VIEW") == "1" if view is None else view

    @property
    def local(self):
        """Whether this plays an instance on a developer's machine (rooted, or in a private
        view) rather than running on an EC2 instance: no dnf, no systemd, no metadata service,
        the fleet's ports."""
        return self.rooted or self.view

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
