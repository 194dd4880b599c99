"""`/opt/elasticbeanstalk/bin/get-config`, as Elastic Beanstalk's Amazon Linux 2023 platforms
have it, so hooks that call it run unchanged:

  get-config environment [-k KEY]          the environment properties (secrets' values too)
  get-config optionsettings [-n NS -o OPT] the option settings by namespace
  get-config platformconfig [-k KEY]       the platform's paths, user and proxy
  get-config container [-k KEY]            the container's settings
  --output json|yaml                       (default json; a single value prints bare)

The engine writes what it answers (root's only: it holds the secrets' values) when a deployment
starts, and installs the command beside it. The command is one self-contained Python file."""

import os

from . import documents

# The command itself: the data file's path is put in at installation.
SCRIPT = r'''#!/usr/bin/env python3
"""Elastic Beanstalk's get-config, installed by Beanpole's platform engine."""
import argparse
import json
import sys

DATA = %(data)r


def yaml(value, indent=0):
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = ""
        for key in sorted(value):
            item = value[key]
            if isinstance(item, (dict, list)) and item:
                out += "%%s%%s:\n%%s" %% (pad, json.dumps(str(key)), yaml(item, indent + 1))
            else:
                out += "%%s%%s: %%s" %% (pad, json.dumps(str(key)), yaml(item, 0).lstrip())
        return out
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        return "".join("%%s- %%s" %% (pad, yaml(item, indent + 1).lstrip()) for item in value)
    return pad + json.dumps(value) + "\n"


def main(argv):
    top = argparse.ArgumentParser(prog="get-config")
    top.add_argument("section", choices=["environment", "optionsettings", "platformconfig", "container"])
    top.add_argument("-k", "--key")
    top.add_argument("-n", "--namespace")
    top.add_argument("-o", "--option")
    top.add_argument("--output", choices=["json", "yaml"], default="json")
    args = top.parse_args(argv)
    try:
        with open(DATA, encoding="utf-8") as f:
            value = json.load(f)[args.section]
    except (OSError, ValueError, KeyError) as e:
        print("get-config: no configuration on this instance yet (%%s)" %% e, file=sys.stderr)
        return 1
    path = []
    if args.section == "optionsettings":
        if args.option and not args.namespace:
            print("get-config: -o needs -n NAMESPACE", file=sys.stderr)
            return 1
        path = [p for p in (args.namespace, args.option) if p]
    elif args.namespace or args.option:
        print("get-config: -n and -o are for optionsettings", file=sys.stderr)
        return 1
    if args.key:
        path.append(args.key)
    for part in path:
        if not isinstance(value, dict) or part not in value:
            print("get-config: %%s not found" %% ".".join(path), file=sys.stderr)
            return 1
        value = value[part]
    if isinstance(value, str) and path:
        print(value)
    elif args.output == "yaml":
        sys.stdout.write(yaml(value))
    else:
        print(json.dumps(value, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''


def sections(doc, secret_values):
    """What each section of get-config answers for this deployment."""
    environment = dict(doc["properties"])
    environment.update(secret_values)
    proxy = "apache" if doc["proxy"] == "apache" else "nginx"
    python = doc.get("option_settings", {}).get("aws:elasticbeanstalk:container:python", {})
    return {
        "environment": environment,
        "optionsettings": doc.get("option_settings", {}),
        "platformconfig": {
            "AppUser": "webapp",
            "AppDeployDir": "/var/app/current/",
            "AppStagingDir": "/var/app/staging/",
            "ProxyServer": proxy,
            "DefaultInstancePort": "80",
        },
        "container": {
            "environment_name": doc["environment"],
            "application_name": doc["application"],
            "instance_port": "80",
            "proxy_server": proxy,
            "wsgi_path": python.get("WSGIPath", ""),
            "app_user": "webapp",
            "app_deploy_dir": "/var/app/current/",
            "app_staging_dir": "/var/app/staging/",
            "log_group_name_prefix": "/aws/elasticbeanstalk",
        },
    }


def install(doc, secret_values, paths):
    """Writes this deployment's answers and the command (`/opt/elasticbeanstalk/bin/get-config`)."""
    data = paths.at("/opt/elasticbeanstalk/config/private/get-config.json")
    os.makedirs(os.path.dirname(data), mode=0o700, exist_ok=True)
    documents.write_json(data, sections(doc, secret_values), mode=0o600)
    command = paths.at("/opt/elasticbeanstalk/bin/get-config")
    os.makedirs(os.path.dirname(command), exist_ok=True)
    tmp = command + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(SCRIPT % {"data": data})
    os.chmod(tmp, 0o755)
    os.replace(tmp, command)


def run_script(argv, data_path):
    """Runs the installed command's text in this process (for the engine's tests)."""
    namespace = {"__name__": "get_config"}
    exec(compile(SCRIPT % {"data": data_path}, "get-config", "exec"), namespace)  # noqa: S102
    return namespace["main"](argv)

