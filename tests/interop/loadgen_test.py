#!/usr/bin/env python3
"""loadgen against a real server: a short closed-loop run whose JSON report
adds up (every connection opened, acks and replies counted, latencies
ordered), a fixed-rate run that keeps its rate, and a server restart in the
middle of a run, which loadgen survives by resuming every conversation.

usage: loadgen_test.py SUPPORTBOT SOURCE_DIR LOADGEN"""
import json
import os
import subprocess
import sys
import tempfile
import time

loadgen = os.path.abspath(sys.argv[3])
from interop_common import Server, check, finish, source, write_config  # noqa: E402

LIMITS = "limits:\n  connections_per_ip: 1000\n  visitor_messages_per_10s: 1000000\n"
MESSAGES = os.path.join(source, "tests", "bench", "messages.txt")


def run_loadgen(url, *args, timeout=60):
    r = subprocess.run([loadgen, "--url", url, "--messages", MESSAGES, "--json", *args],
                       capture_output=True, text=True, timeout=timeout)
    try:
        return r.returncode, json.loads(r.stdout)
    except ValueError:
        return r.returncode, {"stdout": r.stdout, "stderr": r.stderr[-2000:]}


def latencies_ordered(rep):
    lat = rep.get("latency_ms", {})
    return lat.get("count", 0) > 0 and 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]


with tempfile.TemporaryDirectory() as tmp:
    cfg = write_config(tmp, LIMITS)
    server = Server(cfg)
    try:
        rc, rep = run_loadgen(server.url, "--connections", "20", "--duration", "3", "--ramp", "0.5")
        check(rc == 0, f"closed loop exits 0: {rc} {rep}")
        check(rep.get("mode") == "closed_loop" and rep.get("connections_opened") == 20, f"20 opened: {rep}")
        check(rep.get("errors") == 0 and rep.get("connections_failed") == 0, f"no errors: {rep}")
        check(rep.get("replies", 0) > 100 and rep.get("acks", 0) >= rep.get("replies", 0), f"answered: {rep}")
        check(rep.get("throughput_replies_per_s", 0) > 0 and latencies_ordered(rep), f"figures: {rep}")

        rc, rep = run_loadgen(server.url, "--connections", "20", "--duration", "3", "--ramp", "0.5",
                              "--rate", "200")
        rate = rep.get("throughput_replies_per_s", 0)
        check(rc == 0 and rep.get("mode") == "open_loop", f"open loop runs: {rep}")
        check(150 <= rate <= 250, f"open loop keeps about 200 messages/s: {rate}")

        rc, rep = run_loadgen(server.url, "--connections", "50", "--duration", "3", "--ramp", "0.5", "--idle")
        check(rc == 0 and rep.get("open_at_end") == 50, f"idle connections held: {rep}")
    finally:
        server.terminate()

    # A restart in the middle of a run: same data, same port.
    port = server.port
    with open(cfg) as f:
        text = f.read().replace("port: 0", f"port: {port}")
    with open(cfg, "w") as f:
        f.write(text)
    server = Server(cfg)
    proc = subprocess.Popen([loadgen, "--url", server.url, "--messages", MESSAGES, "--json",
                             "--connections", "10", "--duration", "6", "--ramp", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    server.terminate()
    server = Server(cfg)
    try:
        out, _ = proc.communicate(timeout=60)
        rep = json.loads(out) if out.strip().startswith("{") else {"stdout": out}
        check(rep.get("reconnects", 0) >= 10, f"every connection resumed after the restart: {rep}")
        # (Attempts while the server was down are refused: reconnect_failures.)
        check(rep.get("not_resumed", 1) == 0, f"resumed the same conversations: {rep}")
        check(rep.get("disconnects", {}).get("close_1001") == 10, f"the server said goodbye with 1001: {rep}")
        check(rep.get("open_at_end") == 10 and rep.get("replies_in_window", 0) > 0, f"went on after: {rep}")
    finally:
        server.terminate()

finish()
