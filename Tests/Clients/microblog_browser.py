"""Headless Chromium, phone-sized, on the microblog: a refused sign-up shows every field's error
and keeps the name typed; sign-up and posting flash a message shown once; a refused post keeps
its text; a long word does not widen the page; a picture chosen in the settings page's file
input is uploaded and shown.

    python3 microblog_browser.py http://127.0.0.1:PORT

Drives Chromium through its DevTools protocol (see chat_browser.py) and prints one JSON object
with what the page showed. The Swift test asserts on it.
"""
import asyncio
import json
import os
import struct
import sys
import tempfile
import zlib

from devtools import Browser


async def navigate_and_wait(page, action, expected):
    """Runs `action` (JavaScript that submits a form or changes the page) and waits for `expected`."""
    await page.evaluate(f"window.__old = true; {action}; true")
    # The new document has no __old.
    await page.wait_for(f"!window.__old && document.readyState === 'complete' && ({expected})")


def png(width, height):
    """A real PNG of `width` x `height` blue pixels, for the browser to decode."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\x25\x63\xeb" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def main(base):
    async with Browser() as browser:
        page = await browser.open(f"{base}/signup")
        await page.call("Emulation.setDeviceMetricsOverride", width=375, height=800, deviceScaleFactor=1, mobile=True)
        result = {}
        await page.wait_for("document.readyState === 'complete' && !!document.querySelector('input[name=username]')")
        result["rulesShown"] = await page.evaluate("Array.from(document.querySelectorAll('.hint')).map(e => e.textContent)")

        def fill(name, value):
            return f"document.querySelector('[name={name}]').value = {json.dumps(value)}"

        await navigate_and_wait(page, f"{fill('username', 'a!')}; {fill('password', 'short')}; document.querySelector('form[action=\"/signup\"]').submit()",
                                "!!document.querySelector('.field-error')")
        result["signupErrors"] = await page.evaluate("Array.from(document.querySelectorAll('.field-error')).map(e => e.textContent)")
        result["usernameKept"] = await page.evaluate("document.querySelector('[name=username]').value")
        await navigate_and_wait(page, f"{fill('username', 'ann')}; {fill('password', 'correct horse')}; document.querySelector('form[action=\"/signup\"]').submit()",
                                "!!document.querySelector('textarea[name=body]')")
        result["flashAfterSignUp"] = await page.evaluate("Array.from(document.querySelectorAll('.flash')).map(e => e.textContent)")
        result["currentUser"] = await page.evaluate("document.querySelector('nav a[href^=\"/u/\"]')?.textContent")
        word = "w" * 250
        await navigate_and_wait(page, f"{fill('body', word)}; document.querySelector('form[action=\"/post\"]').submit()",
                                "!!document.querySelector('.post')")
        result["flashAfterPost"] = await page.evaluate("Array.from(document.querySelectorAll('.flash')).map(e => e.textContent)")
        result["counts"] = await page.evaluate("document.querySelector('.counts').textContent")
        result["time"] = await page.evaluate("document.querySelector('.post time').textContent")
        result["scrollWidth"] = await page.evaluate("document.documentElement.scrollWidth")
        result["innerWidth"] = await page.evaluate("window.innerWidth")
        result["postWidth"] = await page.evaluate("document.querySelector('.post p').getBoundingClientRect().width")
        await navigate_and_wait(page, f"{fill('body', 'x' * 290)}; document.querySelector('form[action=\"/post\"]').submit()",
                                "!!document.querySelector('.field-error')")
        result["postError"] = await page.evaluate("document.querySelector('.field-error').textContent")
        result["postKeptLength"] = await page.evaluate("document.querySelector('textarea[name=body]').value.length")
        await navigate_and_wait(page, "location.reload()", "!!document.querySelector('textarea[name=body]')")
        result["flashAfterReload"] = await page.evaluate("document.querySelectorAll('.flash').length")

        # The settings page's file input: a real PNG, chosen over DevTools, sent by the form.
        await navigate_and_wait(page, "location.href = '/settings'", "!!document.querySelector('input[type=file]')")
        directory = tempfile.mkdtemp(prefix="carafe-avatar-")
        path = os.path.join(directory, "me.png")
        with open(path, "wb") as file:
            file.write(png(3, 2))
        document = await page.call("DOM.getDocument")
        node = await page.call("DOM.querySelector", nodeId=document["root"]["nodeId"], selector="input[type=file]")
        await page.call("DOM.setFileInputFiles", files=[path], nodeId=node["nodeId"])
        await navigate_and_wait(page, "document.querySelector('form[action=\"/settings/avatar\"]').submit()",
                                "!!document.querySelector('.current-avatar img')")
        os.remove(path)
        os.rmdir(directory)
        await page.wait_for("document.querySelector('.current-avatar img').complete")
        result["avatarFlash"] = await page.evaluate("Array.from(document.querySelectorAll('.flash')).map(e => e.textContent)")
        result["avatarSize"] = await page.evaluate("[document.querySelector('.current-avatar img').naturalWidth, document.querySelector('.current-avatar img').naturalHeight]")
        print(json.dumps(result))


asyncio.run(asyncio.wait_for(main(sys.argv[1]), timeout=90))
