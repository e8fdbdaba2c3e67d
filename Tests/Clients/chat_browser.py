"""Headless Chromium in two tabs on the chat page: Alice types, Bob's page must show her line
as heard over WebSocket and over EventSource.

    python3 chat_browser.py http://127.0.0.1:PORT

Drives Chromium through its DevTools protocol (the `websockets` package as the client) and
prints one JSON object with what each page showed. The Swift test asserts on it.
"""
import asyncio
import json
import sys

from devtools import Browser


def lines(list_id):
    return f"Array.from(document.querySelectorAll('#{list_id} li')).map(li => li.textContent)"


async def main(base):
    async with Browser() as browser:
        pages = {}
        for name in ("alice", "bob"):
            pages[name] = await browser.open(f"{base}/?name={name}")
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


asyncio.run(asyncio.wait_for(main(sys.argv[1]), timeout=60))
