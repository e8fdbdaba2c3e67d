"""Headless Chromium in two tabs on the chat page: Alice types, Bob's page must show her line
as heard over WebSocket and over EventSource.

    python3 chat_browser.py http://127.0.0.1:PORT

Drives Chromium through its DevTools protocol (the `websockets` package as the client) and
prints one JSON object with what each page showed. The Swift test asserts on it.
"""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

from devtools import Page, chromium, free_port


def lines(list_id):
    return f"Array.from(document.querySelectorAll('#{list_id} li')).map(li => li.textContent)"


async def main(base):
    port = free_port()
    profile = tempfile.mkdtemp(prefix="carafe-chromium-")
    browser = subprocess.Popen(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("Chromium's DevTools endpoint did not come up")
                await asyncio.sleep(0.2)
        pages = {}
        for name in ("alice", "bob"):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?{base}/?name={name}", method="PUT")
            target = json.loads(urllib.request.urlopen(request, timeout=5).read())
            pages[name] = Page(await websockets.connect(target["webSocketDebuggerUrl"], max_size=None))
        result = {}
        for name, page in pages.items():
            result[f"{name}Ready"] = await page.wait_for("document.getElementById('status')?.dataset.ready === 'true'")
        await pages["alice"].evaluate(
            "document.getElementById('text').value = 'hello from <b>alice</b>';"
            "document.querySelector('#say button').click(); true")
        said = "alice: hello from <b>alice</b>"
        for name, page in pages.items():
            for transport in ("websocket", "eventsource"):
                await page.wait_for(f"{lines(transport)}.includes({json.dumps(said)})")
                result[f"{name}_{transport}"] = await page.evaluate(lines(transport))
        # Shown as text, not markup: no <b> element made it into the page.
        result["bobBoldElements"] = await pages["bob"].evaluate("document.querySelectorAll('li b').length")
        print(json.dumps(result))
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


asyncio.run(asyncio.wait_for(main(sys.argv[1]), timeout=60))
