"""The engine's command line.

  boot       at an instance's first boot (its user data): deploy what the environment runs
             (its current deployment document in the versions bucket), else the sample
             application
  deploy     fetch a version, stage it, run .ebextensions and .platform hooks, build the
             virtualenv, configure the proxy, flip staging to current, start the Procfile
             processes, check health; put the previous version back when a step after the flip
             fails; write a report
  stop       stop the processes and the proxy it started
  logs       print (or upload) the last lines of the platform's logs
  supervise  (internal) keep one Procfile process running where there is no systemd
  sqsd       (internal) a worker's daemon: the queue's messages POSTed to the application

Every path is under --root (default /): on an instance the paths are EB's own
(/var/app/current, /var/app/venv/staging-LQM1lest, /opt/elasticbeanstalk/deployment/env, ...);
on a developer's machine or in Beanpole's local fleet the same tree lives in a folder.
Processes run under systemd on an instance and under `supervise` elsewhere.
"""

import argparse
import json
import os
import sys

from .engine import Engine
from .paths import Paths
from .processes import supervise
from .runner import Failure


def parser():
    top = argparse.ArgumentParser(prog="beanpole-engine", description="Beanpole's platform engine")
    sub = top.add_subparsers(dest="command", required=True)
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
    for p in [deploy, boot] + [sub.add_parser(n) for n in ("stop", "logs", "supervise", "sqsd")]:
        p.add_argument("--root", default="/")
        p.add_argument("--init", choices=["auto", "systemd", "engine"], default="auto")
        p.add_argument("--instance-id")
        if p.prog.endswith("logs"):
            p.add_argument("--lines", type=int, default=100, help="0: whole files")
            p.add_argument("--upload", help="s3://BUCKET/PREFIX/: upload INSTANCE.json there instead of printing")
        if p.prog.endswith("supervise"):
            p.add_argument("--name", required=True)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    os.umask(0o022)
    if args.command == "supervise":
        supervise(Paths(args.root), args.name)
        return 0
    if args.command == "sqsd":
        from . import sqsd

        engine = Engine(args.root, args.init, args.instance_id)
        return sqsd.main(engine.paths, engine.instance_id)
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
