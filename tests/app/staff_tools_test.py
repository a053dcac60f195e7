#!/usr/bin/env python3
"""The staff tools as staff use them: check (text and --json, exit codes,
every error with file:line:col), ask (decision, reply, candidates, --context,
--json) and test (pass, fail with a readable diff, bad script files)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import binary, check, failures, finish, run, source  # noqa: E402


# check on the sample content
r = run("check", "--json")
check(r.returncode == 0, f"check passes on the samples: {r.stdout} {r.stderr}")
out = json.loads(r.stdout)
check(out["ok"] is True and out["intents"] >= 40, f"at least 40 intents: {out.get('intents')}")
check(out["examples"] == out["examples_passed"] and out["examples"] > 0, "every example passes")
r = run("check")
check(r.returncode == 0 and "examples:" in r.stdout and r.stdout.rstrip().endswith("OK"), f"text summary: {r.stdout}")

with tempfile.TemporaryDirectory() as tmp:
    bad = os.path.join(tmp, "intents")
    os.makedirs(bad)
    with open(os.path.join(bad, "a.yaml"), "w") as f:
        f.write(
            "intents:\n"
            "  - id: hello\n"
            "    patterns: ['\\bhello\\b']\n"
            "    responses: [\"Hi {name}\"]\n"
            "    colour: red\n"
            "    examples: [good morning]\n"
            "    not_examples: [hello there]\n"
            "    handoff: {team: sales}\n")
    r = run("check", "--json", env={"SUPPORTBOT_INTENTS_DIR": bad})
    check(r.returncode == 1, "check fails on broken rules")
    out = json.loads(r.stdout)
    errs = "\n".join(out["errors"])
    a = os.path.join(bad, "a.yaml")
    check(f"{a}:5:5: unknown key 'colour'" in errs, f"unknown key located: {errs}")
    check(f"{a}:4:17: template {{name}} names unknown slot 'name'" in errs, f"template slot located: {errs}")
    check("handoff.team but its action is none" in errs, f"handoff.team without handoff: {errs}")
    check(out["ok"] is False, "ok is false")

    # Examples that route wrong: loaded fine, examples fail.
    with open(os.path.join(bad, "a.yaml"), "w") as f:
        f.write(
            "intents:\n"
            "  - id: hello\n"
            "    patterns: ['\\bhello\\b']\n"
            "    responses: [\"Hi\"]\n"
            "    examples: [good morning]\n"
            "    not_examples: [hello there]\n")
    r = run("check", env={"SUPPORTBOT_INTENTS_DIR": bad})
    check(r.returncode == 1, "failing examples fail check")
    check(f"{a}:5:16: example 'good morning' of 'hello' does not route to it" in r.stdout, f"example located: {r.stdout}")
    check(f"{a}:6:20: not_example 'hello there' routes to 'hello'" in r.stdout, f"not_example located: {r.stdout}")
    check("examples: 0/2 passed" in r.stdout, f"summary counts: {r.stdout}")

    # test: a failing script prints a diff and exits 1; a malformed one is an error.
    script = os.path.join(tmp, "conv.yaml")
    with open(script, "w") as f:
        f.write("name: wrong expectations\nturns:\n"
                "  - visitor: where is my order\n"
                "    expect: {decision: answer, intent: order_status, contains: order number}\n"
                "  - visitor: AB-123456\n"
                "    expect: {intent: cancel_order, state: queued, slots: {order_id: ZZ-000000}}\n")
    r = run("test", script)
    check(r.returncode == 1, "a failing script exits 1")
    check("FAIL" in r.stdout and "turn 2" in r.stdout, f"names the turn: {r.stdout}")
    check("intent:   expected cancel_order, got order_status" in r.stdout, f"intent diff: {r.stdout}")
    check("state:    expected queued, got bot" in r.stdout, f"state diff: {r.stdout}")
    check("slot order_id: expected ZZ-000000, got AB-123456" in r.stdout, f"slot diff: {r.stdout}")
    check("0 passed, 1 failed" in r.stdout, f"summary: {r.stdout}")
    with open(script, "w") as f:
        f.write("name: typo\nturns:\n  - visiter: hi\n    expect: {decison: answer}\n")
    r = run("test", script)
    check(r.returncode == 1 and "unknown key 'visiter'" in r.stdout and "unknown key 'decison'" in r.stdout,
          f"script errors listed: {r.stdout}")

# ask
r = run("ask", "Where is my order AB-123456?", "--json")
check(r.returncode == 0, "ask exits 0")
out = json.loads(r.stdout)
check(out["decision"] == "answer" and out["source"]["id"] == "order_status", f"ask routes: {out}")
check("AB-123456" in out["reply"], "reply has the slot")
check(out["candidates"][0]["slots"].get("order_id") == "AB-123456", "candidate shows its slots")
check(out["candidates"][0]["matched_by"] != "", "candidate shows its pattern")
r = run("ask", "asdfgh qwerty", "--json")
check(json.loads(r.stdout)["decision"] == "fallback", "gibberish falls back")
r = run("ask", "I want to talk to a human")
check("decision:  handoff" in r.stdout and "team general" in r.stdout, f"handoff shown: {r.stdout}")
r = run("ask")
check(r.returncode == 2, "ask without text is a usage error")
r = run("ask", "x", "--context", "novalue")
check(r.returncode == 2 and "key=value" in r.stderr, "bad --context is a usage error")

finish()
