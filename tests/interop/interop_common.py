"""Shared pieces of the interop tests: the harness of tests/app (argv, check,
finish), a `supportbot serve` process on port 0 whose stderr is drained in the
background, and a small JSON-over-WebSocket client (python3-websockets 10.x,
asyncio API)."""
import asyncio
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "app"))
from harness import binary, check, failures, finish, source  # noqa: E402,F401

import websockets  # noqa: E402  Debian's python3-websockets

RECV_TIMEOUT = 5.0


def write_config(tmp, extra=""):
    """Writes tmp/supportbot.yaml (port 0, data under tmp/var) and returns its path."""
    cfg = os.path.join(tmp, "supportbot.yaml")
    with open(cfg, "w") as f:
        f.write(f"port: 0\nthreads: 2\ndata_dir: var\nweb_dir: {source}/bot/web\n"
                f"intents_dir: {source}/intents\nkb_dir: {source}/knowledge_base\n{extra}")
    return cfg


class Server:
    """`supportbot serve --config cfg`; `port` is read from the 'listening' log
    line, then a thread keeps reading stderr so that the pipe never fills."""

    def __init__(self, cfg, start_timeout=30):
        self.proc = subprocess.Popen([binary, "serve", "--config", cfg], stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.port = None
        deadline = time.time() + start_timeout
        while time.time() < deadline and self.port is None:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "listening":
                self.port = entry["port"]
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()
        if self.port is None:
            self.kill()
            raise RuntimeError("serve did not log 'listening':\n" + "".join(self.lines[-20:]))
        self.url = f"ws://127.0.0.1:{self.port}/ws"

    def _read_rest(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def kill(self):
        """SIGKILL, then wait for the process and its stderr."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._drain.join(timeout=5)
        return self.proc.returncode

    def terminate(self, timeout=15):
        """SIGTERM; the exit code, or None if it had to be killed."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self._drain.join(timeout=5)
        return self.proc.returncode

    def events(self, name):
        out = []
        for line in self.lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == name:
                out.append(entry)
        return out

    def tail(self, n=20):
        return "".join(self.lines[-n:])


class Client:
    """One visitor connection: JSON frames in and out."""

    def __init__(self, ws):
        self.ws = ws

    @classmethod
    async def connect(cls, url):
        return cls(await websockets.connect(url, open_timeout=10, close_timeout=2, max_size=1 << 22))

    async def send(self, obj):
        await self.ws.send(obj if isinstance(obj, str) else json.dumps(obj))

    async def recv(self, timeout=RECV_TIMEOUT):
        """The next frame as a dict; None on timeout."""
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            return None
        return json.loads(raw)

    async def recv_all(self, quiet=0.5):
        """Every frame that arrives until the connection is quiet for `quiet` s."""
        out = []
        while True:
            f = await self.recv(timeout=quiet)
            if f is None:
                return out
            out.append(f)

    async def hello(self, token=None, last_seq=None):
        h = {"type": "hello"}
        if token is not None:
            h["token"] = token
        if last_seq is not None:
            h["last_seq"] = last_seq
        await self.send(h)
        return await self.recv()

    async def close(self):
        await self.ws.close()
