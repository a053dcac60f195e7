#!/usr/bin/env python3
"""Crash safety: 8 visitors send messages continuously over WebSockets while
the server is killed with SIGKILL at a random moment, then restarted on the
same data dir, round after round. Each client keeps an outbox and resends
what was not acked, as the widget does. At the end:
  (a) the database holds every acked client_msg_id exactly once, at the seq
      of its ack; each conversation's seqs are 1..N; integrity_check ok;
  (b) resuming with last_seq 0 replays every acked message exactly once.

usage: server_crash_test.py SUPPORTBOT_BINARY SOURCE_DIR [SEED]"""
import asyncio
import collections
import json
import os
import random
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_common import Client, Server, check, failures, finish, write_config  # noqa: E402

import websockets  # noqa: E402

CONVERSATIONS = 8
KILL_ROUNDS = 6
WINDOW = 4            # messages in flight per connection
PAUSE = 0.02          # seconds between sends on one connection
MAX_MESSAGES = 500    # visitor messages per conversation, all rounds together
# replay_window is raised so that the final replay from last_seq 0 (up to
# 1000 messages) comes whole, without a resync.
CONFIG = """
routing:
  fallbacks_before_handoff: 0
limits:
  visitor_messages_per_10s: 1000000
  replay_window: 100000
"""
# Questions the bot answers itself (no handoff): every turn is stored as the
# visitor message and the bot's reply.
TEXTS = ["where is my order?", "what is your return policy?", "how long does shipping take?",
         "what payment methods do you accept?", "how do I reset my password?", "do you ship internationally?"]

seed = int(sys.argv[3]) if len(sys.argv) > 3 else int(time.time())
rng = random.Random(seed)
print(f"seed {seed}")


class Conversation:
    def __init__(self, idx):
        self.idx = idx
        self.token = None
        self.conv_id = None
        self.acked = {}  # client_msg_id -> seq of its ack
        self.pending = collections.OrderedDict()  # client_msg_id -> text, sent or to send, not acked
        self.texts = {}  # client_msg_id -> text
        self.count = 0  # client_msg_ids made so far
        self.max_seq = 0  # highest seq seen (ack or message)

    def new_message(self):
        self.count += 1
        cmid = f"c{self.idx}-m{self.count}"
        self.texts[cmid] = f"{rng.choice(TEXTS)} ({cmid})"
        self.pending[cmid] = self.texts[cmid]
        return cmid


stats = collections.Counter()


async def open_conversation(conv, url, rnd):
    cl = await Client.connect(url)
    w = await cl.hello(conv.token, conv.max_seq if conv.token else None)
    if w is None or w.get("type") != "welcome":
        raise RuntimeError(f"conversation {conv.idx}: no welcome, got {w}")
    if conv.token is None:
        conv.token, conv.conv_id = w["token"], w["conversation_id"]
    else:
        check(w.get("resumed") is True and w.get("conversation_id") == conv.conv_id,
              f"round {rnd}: conversation {conv.idx} resumes after the restart, got {w}")
        check(isinstance(w.get("last_seq"), int) and w["last_seq"] >= conv.max_seq,
              f"round {rnd}: conversation {conv.idx} last_seq {w.get('last_seq')} >= {conv.max_seq} seen before the kill")
    return cl


def on_frame(conv, f, rnd):
    """Books one frame; returns True for a frame that ends an in-flight message (ack or error)."""
    t = f.get("type")
    if t == "ack":
        cmid, seq = f.get("client_msg_id"), f.get("seq")
        if cmid not in conv.texts:
            check(False, f"round {rnd}: ack for a client_msg_id never sent: {f}")
            return True
        if cmid in conv.acked:
            check(conv.acked[cmid] == seq, f"round {rnd}: {cmid} acked at seq {conv.acked[cmid]}, now at {seq}")
            check(f.get("duplicate") is True, f"round {rnd}: {cmid} acked before, acked again as new: {f}")
        elif f.get("duplicate"):
            stats["duplicate acks (stored, ack lost in the kill)"] += 1
        conv.acked[cmid] = seq
        conv.pending.pop(cmid, None)
        conv.max_seq = max(conv.max_seq, seq)
        stats[f"acks in round {rnd}"] += 1
        return True
    if t == "message":
        if isinstance(f.get("seq"), int):
            conv.max_seq = max(conv.max_seq, f["seq"])
        return False
    if t == "error":
        stats[f"error {f.get('code')}"] += 1
        check(f.get("code") in ("unavailable", "rate_limited"), f"round {rnd}: unexpected error {f}")
        return f.get("client_msg_id") is not None
    if t == "resync":
        check(False, f"round {rnd}: conversation {conv.idx}: resync {f} (history shorter than seen?)")
    return False


async def drive(conv, cl, rnd, final):
    """Sends the outbox, then new messages (not in the final round), WINDOW in
    flight, until the connection drops; in the final round until all is acked."""
    slots = asyncio.Semaphore(WINDOW)
    all_acked = asyncio.Event()

    async def reader():
        try:
            async for raw in cl.ws:
                if on_frame(conv, json.loads(raw), rnd):
                    slots.release()
                if final and not conv.pending:
                    all_acked.set()
                    return
        except websockets.ConnectionClosed:
            pass

    async def writer():
        outbox = list(conv.pending)
        while True:
            await slots.acquire()
            if outbox:
                cmid = outbox.pop(0)
            elif not final and conv.count < MAX_MESSAGES:
                cmid = conv.new_message()
            else:
                return
            await cl.send({"type": "message", "client_msg_id": cmid, "text": conv.texts[cmid]})
            await asyncio.sleep(PAUSE)

    read = asyncio.create_task(reader())
    write = asyncio.create_task(writer())
    if final:
        if conv.pending:
            await asyncio.wait_for(all_acked.wait(), 20)
        write.cancel()
        read.cancel()
        await cl.close()
        return
    await read  # ends when the server dies
    write.cancel()
    try:
        await write
    except (asyncio.CancelledError, websockets.ConnectionClosed):
        pass


async def run_round(server, convs, rnd, kill_after):
    clients = await asyncio.gather(*(open_conversation(c, server.url, rnd) for c in convs))
    alive = [True]

    def kill():
        alive[0] = server.proc.poll() is None
        server.proc.kill()

    if kill_after is not None:
        asyncio.get_running_loop().call_later(kill_after, kill)
    await asyncio.wait_for(asyncio.gather(*(drive(c, cl, rnd, kill_after is None) for c, cl in zip(convs, clients))),
                           30)
    check(alive[0], f"round {rnd}: the server was still running when killed (exit {server.proc.returncode})")


async def replay_all(url, convs):
    """(b): hello with last_seq 0 replays each conversation in full."""
    for conv in convs:
        cl = await Client.connect(url)
        w = await cl.hello(conv.token, 0)
        check(w is not None and w.get("resumed") is True and w.get("conversation_id") == conv.conv_id,
              f"conversation {conv.idx} resumes for the replay, got {w}")
        last = (w or {}).get("last_seq", 0)
        got = []
        while not got or got[-1].get("seq") != last:
            f = await cl.recv()
            if f is None:
                break
            if f.get("type") == "message":
                got.append(f)
            else:
                check(False, f"conversation {conv.idx}: unexpected frame in the replay: {f}")
        await cl.close()
        seqs = [f.get("seq") for f in got]
        check(seqs == list(range(1, last + 1)), f"conversation {conv.idx}: replay is seq 1..{last} without gaps "
                                                 f"(got {len(seqs)} messages, first gaps/dupes at {first_break(seqs)})")
        visitor = collections.Counter(f.get("client_msg_id") for f in got if f.get("from") == "visitor")
        dupes = [c for c, n in visitor.items() if n > 1]
        check(not dupes, f"conversation {conv.idx}: replayed more than once: {dupes[:10]}")
        missing = [c for c in conv.acked if c not in visitor]
        check(not missing, f"conversation {conv.idx}: acked but not replayed: {missing[:10]}")
        extra = [c for c in visitor if c not in conv.acked]
        check(not extra, f"conversation {conv.idx}: replayed but never acked: {extra[:10]}")
        at = {f.get("client_msg_id"): f.get("seq") for f in got if f.get("from") == "visitor"}
        wrong = [(c, s, at[c]) for c, s in conv.acked.items() if c in at and at[c] != s]
        check(not wrong, f"conversation {conv.idx}: replayed at another seq than acked (cmid, ack, replay): {wrong[:10]}")
        texts = [(f.get("client_msg_id"), f.get("text")) for f in got if f.get("from") == "visitor"
                 and f.get("text") != conv.texts.get(f.get("client_msg_id"))]
        check(not texts, f"conversation {conv.idx}: replayed text differs: {texts[:5]}")


def first_break(seqs):
    for i, s in enumerate(seqs):
        if s != i + 1:
            return f"index {i}: {seqs[max(0, i - 2):i + 3]}"
    return "none"


def check_db(db, convs):
    """(a): every acked client_msg_id once, at its ack's seq; seqs 1..N."""
    con = sqlite3.connect(db)
    check(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "database intact after the kills")
    check(con.execute("PRAGMA foreign_key_check").fetchall() == [], "no dangling foreign keys")
    for conv in convs:
        rows = con.execute("SELECT seq, sender, client_msg_id, text FROM messages WHERE conversation_id = ? "
                           "ORDER BY seq", (conv.conv_id,)).fetchall()
        seqs = [r[0] for r in rows]
        check(seqs == list(range(1, len(rows) + 1)), f"conversation {conv.idx}: stored seqs 1..{len(rows)}, "
                                                      f"first break at {first_break(seqs)}")
        # Schema v3: a turn's dialog context is on its last message, not in conversations.
        exists = con.execute("SELECT count(*) FROM conversations WHERE id = ?", (conv.conv_id,)).fetchone()[0]
        with_context = con.execute("SELECT count(*) FROM messages WHERE conversation_id = ? AND "
                                   "context_json IS NOT NULL", (conv.conv_id,)).fetchone()[0]
        check(exists == 1 and (not rows or with_context > 0),
              f"conversation {conv.idx}: stored, and its turns' contexts on its messages ({with_context})")
        stored = collections.defaultdict(list)
        for seq, sender, cmid, text in rows:
            if cmid is not None:
                stored[cmid].append(seq)
        for cmid, seq in conv.acked.items():
            if stored.get(cmid) != [seq]:
                check(False, f"conversation {conv.idx}: {cmid} acked at seq {seq}, stored at {stored.get(cmid, [])}")
        extra = [c for c in stored if c not in conv.acked]
        check(not extra, f"conversation {conv.idx}: stored but never acked: {extra[:10]}")
        # One transaction per turn: never a stored question without its answer.
        unanswered = [r[0] for i, r in enumerate(rows)
                      if r[1] == "visitor" and (i + 1 >= len(rows) or rows[i + 1][1] != "bot")]
        check(not unanswered, f"conversation {conv.idx}: visitor messages without the bot's reply at seq {unanswered[:10]}")
    con.close()


def main():
    start = time.time()
    convs = [Conversation(i) for i in range(CONVERSATIONS)]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = write_config(tmp, CONFIG)
        for rnd in range(1, KILL_ROUNDS + 1):
            server = Server(cfg)
            kill_after = rng.uniform(0.2, 1.5)
            try:
                asyncio.run(run_round(server, convs, rnd, kill_after))
            except Exception as e:
                check(False, f"round {rnd}: {type(e).__name__}: {e}")
            rc = server.kill()
            check(rc == -9, f"round {rnd}: the server died of SIGKILL, exit {rc}")
            print(f"round {rnd}: killed after {kill_after:.2f} s, {stats[f'acks in round {rnd}']} acks, "
                  f"{sum(len(c.pending) for c in convs)} unacked in the outboxes")
            if failures:
                print("server log (tail):\n" + server.tail(), file=sys.stderr)
                break
        # A last start: flush the outboxes, then replay everything.
        server = Server(cfg)
        try:
            asyncio.run(run_round(server, convs, "final", None))
            check(all(not c.pending for c in convs), "every message is acked in the end")
            asyncio.run(asyncio.wait_for(replay_all(server.url, convs), 60))
        except Exception as e:
            check(False, f"final round: {type(e).__name__}: {e}")
        rc = server.terminate()
        check(rc == 0, f"serve exits 0 on SIGTERM after the crashes, got {rc}")
        if failures:
            print("server log (tail):\n" + server.tail(), file=sys.stderr)
        check_db(os.path.join(tmp, "var", "supportbot.db"), convs)
    acked = sum(len(c.acked) for c in convs)
    print(f"{acked} messages acked over {KILL_ROUNDS} kills; {dict(stats)}")
    check(acked >= CONVERSATIONS * KILL_ROUNDS, f"enough traffic to mean something: {acked} acks")
    print(f"crash test took {time.time() - start:.1f} s (seed {seed})")
    finish()


main()
