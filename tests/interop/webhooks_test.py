"""Webhooks against a local receiver (Python's http.server), verified the way
docs/webhooks.md tells integrators to: HMAC-SHA256 over "timestamp.body" with
the shared secret, compared in constant time, timestamp within 5 minutes.

A visitor is handed off (event `handoff`), leaves an email (`ticket`), comes
back and closes (`closed`). The receiver answers the first attempt of every
delivery with 503: each must be retried with the same delivery id and a fresh
signature. A second URL that refuses connections must not hold anything up.

Usage: webhooks_test.py SUPPORTBOT SOURCE_DIR"""
import asyncio
import hashlib
import hmac
import http.server
import json
import socket
import tempfile
import threading
import time

from interop_common import Client, Server, check, finish, write_config

SECRET = "test-secret-0123456789abcdef"


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.attempts = []  # (delivery id, headers, body, verified)
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        ts = self.headers.get("X-Supportbot-Timestamp", "")
        sig = self.headers.get("X-Supportbot-Signature", "")
        expected = "v1=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
        verified = hmac.compare_digest(expected, sig) and fresh
        delivery = self.headers.get("X-Supportbot-Delivery", "")
        with self.server.lock:
            first = all(a[0] != delivery for a in self.server.attempts)
            self.server.attempts.append((delivery, dict(self.headers), body, verified))
        self.send_response(503 if first else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def refused_port():
    """A port with nothing listening on it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def drive(url):
    v = await Client.connect(url)
    welcome = await v.hello()
    token, conv = welcome["token"], welcome["conversation_id"]
    await v.send({"type": "message", "client_msg_id": "m1", "text": "I want to talk to a human"})
    await v.recv_all(quiet=0.5)
    await v.send({"type": "contact", "email": "sam@example.com"})
    await v.recv_all(quiet=0.5)
    await v.close()
    # Back later: the visitor resumes and ends the conversation.
    v = await Client.connect(url)
    await v.hello(token=token)
    await v.send({"type": "close"})
    await v.recv_all(quiet=0.5)
    await v.close()
    return conv


def main():
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/supportbot?src=test"
    dead = f"http://127.0.0.1:{refused_port()}/nobody"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = write_config(tmp, f"webhooks:\n  urls: [\"{hook}\", \"{dead}\"]\n"
                                f"  secret: {SECRET}\n  max_attempts: 3\n  timeout_s: 2\n")
        server = Server(cfg)
        try:
            t0 = time.time()
            conv = asyncio.run(asyncio.wait_for(drive(server.url), 30))
            check(time.time() - t0 < 10, "the conversation was not slowed by the webhooks")
            # Every event: a 503, then (after ~1 s) a 200.
            deadline = time.time() + 20
            while time.time() < deadline:
                with receiver.lock:
                    ok = {a[0] for a in receiver.attempts}
                    if len(ok) >= 3 and len(receiver.attempts) >= 6:
                        break
                time.sleep(0.2)
            with receiver.lock:
                attempts = list(receiver.attempts)
            check(len(attempts) == 6, f"6 attempts (3 events x 2), got {len(attempts)}")
            by_delivery = {}
            for delivery, headers, body, verified in attempts:
                by_delivery.setdefault(delivery, []).append((headers, body, verified))
                check(verified, f"signature of {delivery} verifies")
                check(headers.get("Content-Type") == "application/json", "JSON body")
            types = []
            for delivery, tries in by_delivery.items():
                check(len(tries) == 2, f"{delivery}: retried once after the 503")
                bodies = {t[1] for t in tries}
                check(len(bodies) == 1, f"{delivery}: the same body on the retry")
                event = json.loads(tries[0][1])
                check(event["id"] == delivery, "the body's id is the delivery id")
                check(event["conversation_id"] == conv, "the event names the conversation")
                check(tries[0][0].get("X-Supportbot-Event") == event["type"], "event header")
                types.append(event["type"])
                if event["type"] == "handoff":
                    check(event["data"].get("team") == "general", "handoff names the team")
                    check(bool(event["data"].get("reason")), "handoff says why")
                if event["type"] == "ticket":
                    check(event["data"].get("email") == "sam@example.com", "ticket carries the email")
                if event["type"] == "closed":
                    check(event["data"].get("by") == "visitor", "closed says by whom")
            check(sorted(types) == ["closed", "handoff", "ticket"], f"the three events, got {types}")
            # A tampered body does not verify (the check above can fail).
            headers, body, _ = by_delivery[attempts[0][0]][0]
            forged = "v1=" + hmac.new(SECRET.encode(), headers["X-Supportbot-Timestamp"].encode() + b"." +
                                      body.replace(b"general", b"billing"), hashlib.sha256).hexdigest()
            check(forged != headers["X-Supportbot-Signature"], "a changed body changes the signature")
            # The dead URL: given up on after max_attempts, logged.
            deadline = time.time() + 15
            while time.time() < deadline and len(server.events("webhook_failed")) < 3:
                time.sleep(0.2)
            failed = server.events("webhook_failed")
            check(len(failed) == 3 and all(f["url"] == dead and f["attempts"] == 3 for f in failed),
                  f"the dead URL failed 3 deliveries after 3 attempts each: {failed}")
            check(server.terminate() == 0, "the server stops cleanly")
        finally:
            server.kill()
            receiver.shutdown()
    finish()


if __name__ == "__main__":
    main()
