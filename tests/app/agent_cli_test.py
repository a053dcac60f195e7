#!/usr/bin/env python3
"""`supportbot agent add|list|disable|enable|passwd` end to end: the password
from stdin or generated, stored only as a PBKDF2 hash, the listing in text
and JSON, and every refusal with exit code 1 and a message."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import binary, check, finish  # noqa: E402


def agent(tmp, *args, stdin=""):
    return subprocess.run([binary, "agent", *args, "--config", os.path.join(tmp, "supportbot.yaml")],
                          input=stdin, capture_output=True, text=True, timeout=60)


with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "supportbot.yaml"), "w") as f:
        f.write("data_dir: var\n")
    db = os.path.join(tmp, "var", "supportbot.db")

    r = agent(tmp, "add", "alice", "--team", "orders", "--team", "general", "--max-chats", "3",
              "--display-name", "Alice", stdin="correct horse battery\n")
    check(r.returncode == 0, f"add alice exits 0: {r.returncode} {r.stderr!r}")
    check("added agent alice" in r.stdout and "general,orders" in r.stdout, f"add reports: {r.stdout!r}")
    check(r.stderr == "", f"nothing on stderr: {r.stderr!r}")

    r = agent(tmp, "add", "carol", "--generate", "--admin")
    check(r.returncode == 0, f"add --generate exits 0: {r.stderr!r}")
    generated = [l.split(": ", 1)[1] for l in r.stdout.splitlines() if l.startswith("password: ")]
    check(len(generated) == 1 and len(generated[0]) == 20 and generated[0].isalnum(),
          f"a 20-character password is printed: {r.stdout!r}")

    con = sqlite3.connect(db)
    hashes = dict(con.execute("SELECT name, password_hash FROM agents"))
    con.close()
    check(hashes.get("alice", "").startswith("pbkdf2-sha256$600000$"), f"alice's hash: {hashes.get('alice')!r}")
    check(all("correct horse" not in h for h in hashes.values()), "no password stored as given")
    if generated:
        check(generated[0] not in hashes.get("carol", generated[0]), "the generated password is not stored")

    r = agent(tmp, "list", "--json")
    check(r.returncode == 0, "list --json exits 0")
    listed = json.loads(r.stdout) if r.returncode == 0 else []
    check([a["name"] for a in listed] == ["alice", "carol"], f"list by name: {listed}")
    if len(listed) == 2:
        check(listed[0] == {"name": "alice", "display_name": "Alice", "teams": ["general", "orders"],
                            "admin": False, "max_chats": 3, "disabled": False}, f"alice listed: {listed[0]}")
        check(listed[1]["admin"] is True and listed[1]["teams"] == [], f"carol listed: {listed[1]}")
    r = agent(tmp, "list")
    check(r.returncode == 0 and "alice" in r.stdout and "active" in r.stdout, f"list as text: {r.stdout!r}")

    # Refusals: exit 1, a message, nothing changed.
    for args, stdin, why in [
        (["add", "alice"], "another password\n", "exists"),
        (["add", "bob"], "short\n", "at least 10"),
        (["add", "bob"], "", "no password"),
        (["add", "bad name"], "long enough pass\n", "may only hold"),
        (["add", "bob", "--max-chats", "lots"], "long enough pass\n", "not a number"),
        (["add", "bob", "--bogus"], "", "unknown option"),
        (["add"], "", "needs a NAME"),
        (["disable", "nobody"], "", "no agent"),
        (["passwd", "nobody"], "long enough pass\n", "no agent"),
        (["frobnicate", "x"], "", "unknown subcommand"),
    ]:
        r = agent(tmp, *args, stdin=stdin)
        check(r.returncode == 1 and why in r.stderr, f"agent {' '.join(args)}: exit 1 with '{why}': "
                                                       f"{r.returncode} {r.stderr!r}")
    r = agent(tmp, "list", "--json")
    check(len(json.loads(r.stdout)) == 2, "the refusals added nobody")

    r = agent(tmp, "disable", "alice")
    check(r.returncode == 0 and "disabled agent alice" in r.stdout, f"disable: {r.stdout!r}")
    check(json.loads(agent(tmp, "list", "--json").stdout)[0]["disabled"] is True, "alice is disabled")
    r = agent(tmp, "enable", "alice")
    check(r.returncode == 0 and json.loads(agent(tmp, "list", "--json").stdout)[0]["disabled"] is False,
          "enable brings her back")

    r = agent(tmp, "passwd", "alice", stdin="a brand new password\n")
    check(r.returncode == 0, f"passwd exits 0: {r.stderr!r}")
    con = sqlite3.connect(db)
    new_hash = con.execute("SELECT password_hash FROM agents WHERE name = 'alice'").fetchone()[0]
    con.close()
    check(new_hash != hashes.get("alice") and new_hash.startswith("pbkdf2-sha256$"), "passwd stores a new hash")

finish()
