"""Running commands with their output appended to the platform's logs, and a step's failure."""

import datetime
import os
import subprocess

# Command strings run with bash, the /bin/sh of Amazon Linux (`source` works in them).
BASH = "/bin/bash" if os.path.exists("/bin/bash") else None
TAIL_LINES = 50


class Failure(Exception):
    """A step failed: what happened, and the last lines of its output."""

    def __init__(self, message, output=""):
        Exception.__init__(self, message)
        self.message = message
        self.output = output


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def tail(text, lines=TAIL_LINES):
    return "\n".join(text.splitlines()[-lines:])


class Runner:
    """Logs to eb-engine.log and runs commands, keeping the warnings for the report."""

    def __init__(self, paths):
        self.paths = paths
        self.warnings = []
        os.makedirs(paths.logs, exist_ok=True)

    def log(self, message, level="INFO"):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y/%m/%d %H:%M:%S.%f")
        with open(self.paths.log("eb-engine.log"), "a", encoding="utf-8") as f:
            f.write("%s [%s] %s\n" % (stamp, level, message))

    def warn(self, message):
        self.warnings.append(message)
        self.log(message, "WARN")

    def run(self, argv, cwd=None, env=None, log_name="eb-engine.log", shell=False, check=True, what=None):
        """Runs a command, appending its output to a log; (exit code, output)."""
        shown = argv if isinstance(argv, str) else " ".join(argv)
        self.log("Running command: %s" % shown)
        try:
            proc = subprocess.run(
                argv,
                cwd=cwd,
                env=env,
                shell=shell,
                executable=BASH if shell else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            output = proc.stdout.decode("utf-8", "replace")
            code = proc.returncode
        except OSError as e:
            output, code = str(e), 127
        with open(self.paths.log(log_name), "a", encoding="utf-8") as f:
            if log_name != "eb-engine.log":
                f.write("%s [INFO] %s\n" % (now_iso(), shown))
            f.write(output)
            if output and not output.endswith("\n"):
                f.write("\n")
        if check and code != 0:
            raise Failure("%s failed with exit status %d" % (what or shown, code), tail(output))
        return code, output

    def log_tail(self, name, lines=TAIL_LINES):
        try:
            with open(self.paths.log(name), encoding="utf-8", errors="replace") as f:
                return tail(f.read(), lines)
        except OSError:
            return ""
