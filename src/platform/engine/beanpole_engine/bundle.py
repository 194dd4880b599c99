"""A version's bundle: fetched (from the versions bucket or a path of this machine), checked
against the version's sha256, and staged in /var/app/staging. Staging judges links on the
finished tree: files and folders are written first, links last, and every link must then
resolve inside the application folder (a chain of links climbing out of it is refused, as is
an entry that would be written outside it or through a link)."""

import hashlib
import os
import shutil
import zipfile

from . import bucket
from .runner import Failure

# What an instance unpacks at most: Elastic Beanstalk's bundle limit, applied to the files
# unpacked as well as to the zip (a sparse file zips to nothing).
MAX_UNPACKED_BYTES = 512 * 1024 * 1024

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


def fetch_version(runner, paths, version):
    """The version's bundle at /opt/elasticbeanstalk/deployment/app_source_bundle."""
    source = version["source"]
    os.makedirs(paths.deployment, exist_ok=True)
    target = paths.bundle
    if source == "sample:":
        with zipfile.ZipFile(target, "w") as z:
            z.writestr("application.py", SAMPLE_APPLICATION)
        return
    if source.startswith("s3://"):
        bucket.fetch(runner, source, target, what="downloading %s" % source)
    else:
        try:
            shutil.copyfile(source, target)
        except OSError as e:
            raise Failure("cannot read the version's bundle %s: %s" % (source, e)) from e
    digest = hashlib.sha256()
    with open(target, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if version["sha256"] and digest.hexdigest() != version["sha256"]:
        raise Failure("the bundle's sha256 is %s, not the version's %s: it was changed after it was created" % (digest.hexdigest(), version["sha256"]))


def entry_problem(name):
    """Why a zip entry's name cannot be unpacked (absolute, or climbing out), or None."""
    if os.path.isabs(name) or name.startswith("\\") or ".." in name.replace("\\", "/").split("/"):
        return "the bundle entry %r would be written outside the application folder" % name
    return None


def unpacked_size(infos):
    return sum(info.file_size for info in infos)


def is_link(info):
    return ((info.external_attr >> 16) & 0o170000) == 0o120000


def inside(folder, path):
    real = os.path.realpath(folder)
    return path == real or path.startswith(real + os.sep)


def stage_application(runner, paths):
    """Unpacks the bundle into a fresh /var/app/staging."""
    staging = paths.staging
    runner.log("Recreating %s" % staging)
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    try:
        with zipfile.ZipFile(paths.bundle) as z:
            infos = z.infolist()
            size = unpacked_size(infos)
            if size > MAX_UNPACKED_BYTES:
                raise Failure("the bundle unpacks to %d bytes, over the limit of %d" % (size, MAX_UNPACKED_BYTES))
            links = []
            for info in infos:
                problem = entry_problem(info.filename)
                if problem:
                    raise Failure(problem)
                if is_link(info):
                    links.append((info.filename, z.read(info).decode("utf-8")))
                else:
                    write_entry(z, info, staging)
            for name, target in links:
                make_link(staging, name, target)
            check_links(staging, [name for name, _ in links])
    except (zipfile.BadZipFile, OSError) as e:
        raise Failure("cannot unzip the bundle: %s" % e) from e


def write_entry(z, info, staging):
    """A folder or a regular file (no link exists yet: nothing is written through one)."""
    target = os.path.join(staging, info.filename)
    if not inside(staging, os.path.realpath(target)):
        raise Failure("the bundle entry %r would be written outside the application folder" % info.filename)
    if info.filename.endswith("/"):
        os.makedirs(target, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with z.open(info) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    permissions = ((info.external_attr >> 16) & 0o177777) & 0o7777
    os.chmod(target, permissions if permissions else 0o644)


def make_link(staging, name, target):
    path = os.path.join(staging, name.rstrip("/"))
    if os.path.isabs(target):
        raise Failure("the bundle's symbolic link %r points outside the application folder" % name)
    if os.path.lexists(path):
        raise Failure("the bundle entry %r is both a symbolic link and a file or folder" % name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target, path)


def check_links(staging, names):
    """Every link, resolved on the finished tree, stays inside the application folder."""
    for name in names:
        resolved = os.path.realpath(os.path.join(staging, name.rstrip("/")))
        if not inside(staging, resolved):
            raise Failure("the bundle's symbolic link %r points outside the application folder" % name)
