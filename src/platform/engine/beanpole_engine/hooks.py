"""`.platform` hooks: executables in `.platform/hooks/STAGE/` (or `confighooks` for a
configuration deployment), run in lexicographic order with the environment's properties; a
non-zero exit stops the deployment."""

import os

from .runner import Failure, tail

STAGES = ("prebuild", "predeploy", "postdeploy")


def hook_files(app, hooks_dir, stage):
    """The hooks of a stage, in the order they run: (path, name as the user wrote it)."""
    folder = os.path.join(app, ".platform", hooks_dir, stage)
    if not os.path.isdir(folder):
        return []
    found = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            found.append((path, ".platform/%s/%s/%s" % (hooks_dir, stage, name)))
    return found


def run_hooks(runner, app, hooks_dir, stage, env):
    for path, shown in hook_files(app, hooks_dir, stage):
        if not os.access(path, os.X_OK):
            raise Failure("%s is not executable: run `chmod +x %s` and deploy again" % (shown, shown))
        runner.log("Running platform hook: %s" % shown)
        code, output = runner.run([path], cwd=app, env=env, log_name="eb-hooks.log", check=False)
        if code != 0:
            raise Failure("%s failed with exit status %d" % (shown, code), tail(output))
