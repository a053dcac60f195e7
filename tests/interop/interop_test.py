#!/usr/bin/env python3
"""Interop: an independent client (Debian's python3-websockets) drives the
visitor protocol of docs/protocol.md against `supportbot serve`: a new
conversation, messages with ack then the bot's reply, a reconnect that replays
exactly the missed messages, a resent client_msg_id, an unknown token,
malformed frames, and two tabs on one conversation.

usage: interop_test.py SUPPORTBOT_BINARY SOURCE_DIR"""
import asyncio
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_common import Client, Server, check, failures, finish, write_config  # noqa: E402

HEX32 = re.compile(r"[0-9a-f]{32}")
SOURCE_KINDS = {"intent", "kb", "clarify", "fallback"}


def brief(f):
    return None if f is None else {k: v for k, v in f.items() if k not in ("text", "quick_replies")}


def check_ack(f, cmid, seq, duplicate=False):
    check(f is not None and f.get("type") == "ack" and f.get("client_msg_id") == cmid
          and f.get("seq") == seq and f.get("duplicate", False) is duplicate,
          f"ack {{client_msg_id: {cmid}, seq: {seq}, duplicate: {duplicate}}}, got {brief(f)}")


def check_bot(f, seq, what):
    """A bot `message` with seq, text, ts and a well-formed source."""
    ok = (f is not None and f.get("type") == "message" and f.get("seq") == seq and f.get("from") == "bot"
          and isinstance(f.get("text"), str) and f["text"].strip() != "")
    check(ok, f"{what}: bot message with seq {seq} and a text, got {brief(f)}")
    if not ok:
        return
    src = f.get("source")
    check(isinstance(src, dict) and src.get("kind") in SOURCE_KINDS and isinstance(src.get("id"), str)
          and isinstance(src.get("confidence"), (int, float)) and 0 <= src["confidence"] <= 1,
          f"{what}: source {{kind, id, confidence}}, got {src}")
    ts = f.get("ts")
    check(isinstance(ts, int) and abs(ts - time.time() * 1000) < 120_000, f"{what}: ts is server time in ms, got {ts}")


def check_visitor(f, seq, cmid, text, what):
    check(f is not None and f.get("type") == "message" and f.get("seq") == seq and f.get("from") == "visitor"
          and f.get("client_msg_id") == cmid and f.get("text") == text,
          f"{what}: visitor message seq {seq} {cmid} {text!r}, got {brief(f)}")


def msg(cmid, text):
    return {"type": "message", "client_msg_id": cmid, "text": text}


def messages_only(frames):
    return [f for f in frames if f.get("type") == "message"]


async def scenario(url):
    """Returns (conversation_id, last seq) of the main conversation."""
    # --- A new conversation.
    a = await Client.connect(url)
    w = await a.hello()
    check(w is not None and w.get("type") == "welcome", f"hello without token gets welcome, got {w}")
    if not w or w.get("type") != "welcome":
        return None, 0
    conv_id, token = w.get("conversation_id"), w.get("token")
    check(isinstance(conv_id, str) and conv_id.startswith("c_") and len(conv_id) > 2,
          f"welcome has a conversation_id c_..., got {conv_id!r}")
    check(isinstance(token, str) and HEX32.fullmatch(token) is not None, f"welcome token is 128 bits hex, got {token!r}")
    check(w.get("state") == "bot", f"a new conversation is with the bot, got {w.get('state')}")
    check(w.get("last_seq") == 0, f"a new conversation has last_seq 0, got {w.get('last_seq')}")
    check(w.get("resumed") is False, f"a new conversation is not resumed, got {w.get('resumed')}")

    texts = {"m1": "where is my order?", "m2": "what is your return policy?", "m3": "how long does shipping take?"}
    await a.send(msg("m1", texts["m1"]))
    f = await a.recv()
    check_ack(f, "m1", 1)
    bot2 = await a.recv()
    check_bot(bot2, 2, "reply to m1")
    await a.send(msg("m2", texts["m2"]))
    check_ack(await a.recv(), "m2", 3)
    bot4 = await a.recv()
    check_bot(bot4, 4, "reply to m2")
    rest = messages_only(await a.recv_all(0.3))
    check(rest == [], f"nothing but ack and reply per message, got {[brief(f) for f in rest]}")
    await a.close()

    # --- Reconnect with last_seq = the first ack's seq: the missed messages,
    # in order, before the ack of a frame sent right behind the welcome.
    b = await Client.connect(url)
    w = await b.hello(token, 1)
    check(w is not None and w.get("type") == "welcome" and w.get("resumed") is True
          and w.get("conversation_id") == conv_id and w.get("token") == token
          and w.get("last_seq") == 4 and w.get("state") == "bot",
          f"resume: welcome resumed, same conversation and token, last_seq 4, got {brief(w)}")
    await b.send(msg("m1", texts["m1"]))  # an outbox resend of the first message
    frames = []
    while True:
        f = await b.recv()
        if f is None or f.get("type") == "ack":
            break
        frames.append(f)
    replay = messages_only(frames)
    check([x.get("seq") for x in replay] == [2, 3, 4],
          f"replay is exactly seq 2, 3, 4 in order, got {[brief(x) for x in frames]}")
    if len(replay) == 3:
        check(replay[0].get("text") == bot2.get("text") and replay[0].get("source") == bot2.get("source")
              and replay[0].get("from") == "bot", "replayed seq 2 is the bot reply as sent live")
        check_visitor(replay[1], 3, "m2", texts["m2"], "replayed seq 3")
        check(replay[2].get("text") == bot4.get("text") and replay[2].get("from") == "bot",
              "replayed seq 4 is the bot reply as sent live")
    # --- The repeated client_msg_id: the first ack again, nothing new.
    check_ack(f, "m1", 1, duplicate=True)
    rest = messages_only(await b.recv_all(0.5))
    check(rest == [], f"a duplicate stores and answers nothing, got {[brief(x) for x in rest]}")
    await b.send(msg("m1", "something else entirely"))
    f = await b.recv()
    check(f is not None and f.get("type") == "error" and f.get("code") == "conflict"
          and f.get("client_msg_id") == "m1", f"same client_msg_id, other text: error conflict, got {f}")

    # --- Malformed frames: an error each, the connection stays usable.
    for raw, code in (('{"type": "message", "client_msg_id": "x", ', "bad_json"), ("[1, 2]", "bad_frame"),
                      ('{"type": "frobnicate"}', "unknown_type"), ('{"type": "message", "text": "hi"}', "missing_field")):
        await b.send(raw)
        f = await b.recv()
        check(f is not None and f.get("type") == "error" and f.get("code") == code
              and isinstance(f.get("message"), str), f"{raw!r}: error {code}, got {f}")
    await b.send(msg("m3", texts["m3"]))
    check_ack(await b.recv(), "m3", 5)  # 5: the duplicate stored nothing
    check_bot(await b.recv(), 6, "reply to m3 after the errors")
    await b.close()

    # --- A frame before hello; an unknown token: a new conversation.
    c = await Client.connect(url)
    await c.send(msg("early", "hello?"))
    f = await c.recv()
    check(f is not None and f.get("type") == "error" and f.get("code") == "hello_first",
          f"a message before hello: error hello_first, got {f}")
    unknown = "0123456789abcdef" * 2
    w = await c.hello(unknown, 3)
    check(w is not None and w.get("type") == "welcome" and w.get("resumed") is False
          and w.get("conversation_id") not in (None, conv_id) and w.get("token") not in (None, unknown, token)
          and HEX32.fullmatch(w.get("token", "")) is not None and w.get("last_seq") == 0,
          f"unknown token: a new conversation with a new token, got {brief(w)}")
    rest = await c.recv_all(0.3)
    check(rest == [], f"a new conversation replays nothing, got {[brief(x) for x in rest]}")
    await c.send(msg("m1", texts["m1"]))
    check_ack(await c.recv(), "m1", 1)  # its own numbering; m1 is new here
    check_bot(await c.recv(), 2, "reply in the new conversation")
    await c.close()

    # --- Two tabs on one conversation.
    t1, t2 = await Client.connect(url), await Client.connect(url)
    for t in (t1, t2):
        w = await t.hello(token, 6)
        check(w is not None and w.get("resumed") is True and w.get("conversation_id") == conv_id
              and w.get("last_seq") == 6, f"tab resumes at last_seq 6, got {brief(w)}")
    t4 = "do you ship internationally?"
    await t1.send(msg("m4", t4))
    check_ack(await t1.recv(), "m4", 7)
    r1 = await t1.recv()
    check_bot(r1, 8, "reply to m4 on the sending tab")
    o1, o2 = await t2.recv(), await t2.recv()
    check_visitor(o1, 7, "m4", t4, "other tab sees the visitor message")
    check_bot(o2, 8, "other tab sees the reply")
    check(o2 is not None and r1 is not None and o2.get("text") == r1.get("text"), "both tabs get the same reply")
    t5 = "what payment methods do you accept?"
    await t2.send(msg("m5", t5))
    check_ack(await t2.recv(), "m5", 9)
    r2 = await t2.recv()
    check_bot(r2, 10, "reply to m5 on the second tab")
    o1, o2 = await t1.recv(), await t1.recv()
    check_visitor(o1, 9, "m5", t5, "first tab sees the second tab's message")
    check(o2 is not None and r2 is not None and o2.get("seq") == 10 and o2.get("text") == r2.get("text"),
          f"first tab sees the reply seq 10, got {brief(o2)}")

    # Both tabs at once: each turn is visitor + reply, the tabs agree on the order.
    t6, t7 = "how do I reset my password?", "can I use a promo code?"
    await asyncio.gather(t1.send(msg("m6", t6)), t2.send(msg("m7", t7)))
    views = []
    for t, mine in ((t1, "m6"), (t2, "m7")):
        view = []  # (seq, from, client_msg_id) in arrival order
        for _ in range(4):
            f = await t.recv()
            if f is None:
                break
            if f.get("type") == "ack":
                check(f.get("client_msg_id") == mine, f"a tab gets the ack of its own message only, got {f}")
                view.append((f.get("seq"), "visitor", f.get("client_msg_id")))
            elif f.get("type") == "message":
                view.append((f.get("seq"), f.get("from"), f.get("client_msg_id")))
        views.append(view)
    for view in views:
        check([v[0] for v in view] == [11, 12, 13, 14], f"concurrent tabs: seq 11..14 in order on each tab, got {view}")
        check([v[1] for v in view] == ["visitor", "bot", "visitor", "bot"], f"each message then its reply, got {view}")
    check(views[0] == views[1], f"both tabs see the same order: {views}")
    await t1.close()
    await t2.close()
    return conv_id, 14


def main():
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(write_config(tmp))
        try:
            conv_id, last = asyncio.run(asyncio.wait_for(scenario(server.url), 60))
        except Exception as e:  # a timeout or a dropped connection: report, then shut down
            check(False, f"scenario raised {type(e).__name__}: {e}")
            conv_id, last = None, 0
        # Threads are named for top -H and perf (docs/operations.md); with
        # `threads: 2` one I/O thread is the main thread, the other sb-io;
        # only the main thread keeps the process's name.
        names = []
        for task in os.listdir(f"/proc/{server.proc.pid}/task"):
            with open(f"/proc/{server.proc.pid}/task/{task}/comm") as f:
                names.append(f.read().strip())
        for name in ["sb-io", "sb-store-write", "sb-checkpoint", "sb-store-read", "sb-reload", "sb-auth",
                     "sb-signals"]:
            check(name in names, f"a thread named {name}, got {sorted(names)}")
        check(names.count("supportbot") == 1, f"one unnamed thread (the main one), got {sorted(names)}")
        rc = server.terminate()
        check(rc == 0, f"serve exits 0 on SIGTERM, got {rc}")
        db = os.path.join(tmp, "var", "supportbot.db")
        if conv_id and os.path.exists(db):
            con = sqlite3.connect(db)
            rows = con.execute("SELECT seq, sender, client_msg_id FROM messages WHERE conversation_id = ? ORDER BY seq",
                               (conv_id,)).fetchall()
            check([r[0] for r in rows] == list(range(1, last + 1)), f"stored seqs 1..{last}, got {[r[0] for r in rows]}")
            cmids = [r[2] for r in rows if r[1] == "visitor"]
            # m6 and m7 come from two tabs at once: either may be stored first.
            check(cmids[:5] == ["m1", "m2", "m3", "m4", "m5"] and sorted(cmids[5:]) == ["m6", "m7"],
                  f"each visitor message stored once, got {cmids}")
            check(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "database intact")
            con.close()
        if failures:
            print("server log (tail):\n" + server.tail(), file=sys.stderr)
    print(f"interop test took {time.time() - start:.1f} s")
    finish()


main()
