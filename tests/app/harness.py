"""Shared pieces of the end-to-end tests that drive the supportbot binary:
argv handling, soft checks collected and reported at the end, running a
subcommand."""
import os
import subprocess
import sys

binary, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
failures = []


def check(cond, what):
    """Records a failed expectation and goes on, so one run lists them all."""
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def run(*args, cwd=source, env=None, timeout=120):
    """Runs `supportbot ARGS` and returns the CompletedProcess (text mode)."""
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def finish():
    print("ok" if not failures else f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)
