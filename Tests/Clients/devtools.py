"""Headless Chromium driven over its DevTools protocol, for the browser tests' scripts
(`chat_browser.py`, `microblog_browser.py`): the browser itself (`Browser`, started on a free
port and removed afterwards), and a tab (`Page`) to call methods on and evaluate JavaScript in.
"""
import asyncio
import itertools
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("no Chromium found (apt-get install chromium)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Page:
    """One tab, driven over its DevTools WebSocket."""

    def __init__(self, ws):
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method, **params):
        id = next(self.ids)
        await self.ws.send(json.dumps({"id": id, "method": method, "params": params}))
        while True:
            reply = json.loads(await self.ws.recv())
            if reply.get("id") == id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    async def evaluate(self, expression):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def wait_for(self, expression, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.evaluate(expression):
                return True
            await asyncio.sleep(0.1)
        return False


class Browser:
    """Headless Chromium with a profile of its own, for the length of an `async with`;
    `arguments` are more command-line switches (`--ignore-certificate-errors-spki-list=…` to
    trust a test's certificate)."""

    def __init__(self, arguments=()):
        self.arguments = list(arguments)

    async def __aenter__(self):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="carafe-chromium-")
        self.process = subprocess.Popen(
            [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--remote-debugging-port={self.port}", "--remote-debugging-address=127.0.0.1",
             f"--user-data-dir={self.profile}", *self.arguments, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/version", timeout=1).read()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    await self.__aexit__()
                    sys.exit("Chromium's DevTools endpoint did not come up")
                await asyncio.sleep(0.2)

    async def __aexit__(self, *exception):
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    async def open(self, url):
        """A new tab showing `url`."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?{url}", method="PUT")
        target = json.loads(urllib.request.urlopen(request, timeout=5).read())
        return Page(await websockets.connect(target["webSocketDebuggerUrl"], max_size=None))
