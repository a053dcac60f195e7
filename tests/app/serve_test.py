#!/usr/bin/env python3
"""End-to-end test of the supportbot binary: `serve` on port 0 with a fresh
data dir, /healthz, /readyz, static files, SIGTERM -> exit 0 with the store
flushed; bad config -> exit 1 with file:line; --help for every command."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import binary, check, failures, finish, run, source  # noqa: E402


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


with tempfile.TemporaryDirectory() as tmp:
    cfg = os.path.join(tmp, "supportbot.yaml")
    with open(cfg, "w") as f:
        f.write(f"port: 0\nthreads: 2\ndata_dir: var\nweb_dir: {source}/bot/web\nintents_dir: {source}/intents\n")
    proc = subprocess.Popen([binary, "serve", "--config", cfg], stderr=subprocess.PIPE, text=True)
    port = None
    lines = []
    deadline = time.time() + 30
    while time.time() < deadline and port is None:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        entry = json.loads(line)  # every log line is JSON
        if entry.get("event") == "listening":
            port = entry["port"]
    check(port is not None, "serve logs a 'listening' line with the port")
    if port:
        status, body, _ = get(port, "/healthz")
        check(status == 200 and body == "ok\n", f"/healthz 200 ok, got {status} {body!r}")
        status, body, _ = get(port, "/readyz")
        check(status == 200 and json.loads(body)["store"] is True, f"/readyz ready, got {status} {body!r}")
        status, body, headers = get(port, "/")
        check(status == 200 and "text/html" in headers.get("Content-Type", ""), f"/ serves the demo page, got {status}")
        status, _, _ = get(port, "/../../etc/passwd")
        check(status == 404, "no traversal")
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        check(False, "serve exits within 10 s of SIGTERM")
    check(proc.returncode == 0, f"serve exits 0 on SIGTERM, got {proc.returncode}")
    events = [json.loads(l)["event"] for l in (lines + err.splitlines()) if l.strip()]
    check("stopped" in events, f"a 'stopped' line is logged, got {events}")
    db = os.path.join(tmp, "var", "supportbot.db")
    check(os.path.exists(db), "the database is created under data_dir")
    if os.path.exists(db):
        con = sqlite3.connect(db)
        check(con.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "database in WAL mode")
        check(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "database intact")
        check(con.execute("PRAGMA user_version").fetchone()[0] >= 1, "schema migrated")
        con.close()

    # A broken config: exit 1 and every error with file:line:col.
    bad = os.path.join(tmp, "bad.yaml")
    with open(bad, "w") as f:
        f.write("port: 80x\nroutng:\n  answer_threshold: 0.5\n")
    r = subprocess.run([binary, "serve", "--config", bad], capture_output=True, text=True, timeout=30)
    check(r.returncode == 1, f"bad config exits 1, got {r.returncode}")
    check(f"{bad}:1:7: port: expected an integer" in r.stderr, f"port error located: {r.stderr!r}")
    check(f"{bad}:2:1: unknown key 'routng'" in r.stderr, f"unknown key located: {r.stderr!r}")

    # Broken rules at start: exit 1, every error logged with file:line:col.
    os.makedirs(os.path.join(tmp, "broken"))
    with open(os.path.join(tmp, "broken", "x.yaml"), "w") as f:
        f.write("intents:\n  - id: x\n    patterns: ['(']\n    responses: [hi]\n")
    env = dict(os.environ, SUPPORTBOT_INTENTS_DIR=os.path.join(tmp, "broken"))
    r = subprocess.run([binary, "serve", "--config", cfg], capture_output=True, text=True, timeout=30, env=env)
    check(r.returncode == 1, f"broken rules at start exit 1, got {r.returncode}")
    check("x.yaml:3:16: pattern is not valid RE2" in r.stderr, f"rule error located: {r.stderr!r}")

    # A port in use: exit 1 with a clear message.
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    env = dict(os.environ, SUPPORTBOT_PORT=str(s.getsockname()[1]))
    r = subprocess.run([binary, "serve", "--config", cfg], capture_output=True, text=True, timeout=30, env=env)
    check(r.returncode == 1 and "cannot listen" in r.stderr, f"port in use exits 1: {r.returncode}")
    s.close()

# Help for the program and every command.
r = subprocess.run([binary, "--help"], capture_output=True, text=True)
check(r.returncode == 0 and "commands:" in r.stdout, "--help lists commands")
commands = [l.split()[0] for l in r.stdout.split("commands:")[1].split("common options:")[0].splitlines() if l.strip()]
check("serve" in commands, f"serve is listed: {commands}")
for c in commands:
    r = subprocess.run([binary, c, "--help"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith(f"usage: supportbot {c}"), f"{c} --help")
r = subprocess.run([binary, "frobnicate"], capture_output=True, text=True)
check(r.returncode == 2 and "unknown command" in r.stderr, "unknown command exits 2")

finish()
