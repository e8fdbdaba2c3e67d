"""Headless Chromium against hello: a file chosen in an `<input type=file>` (set over DevTools'
`DOM.setFileInputFiles`) and submitted by the browser's own form, and cross-origin `fetch`es from
pages of an allowed and of a refused origin.

    python3 uploads_cors_browser.py http://127.0.0.1:CARAFE_PORT PAGE_PORT

Serves the pages itself on 127.0.0.1:PAGE_PORT, which the server allows, and the same pages as
http://localhost:PAGE_PORT, another origin, which it does not. Prints one JSON object with the
file sent (name, size, sha256), what the server answered for it, and what the pages' JavaScript
saw of each fetch. The Swift test (HelloBrowserTests) asserts on it.
"""
import asyncio
import hashlib
import http.server
import json
import os
import sys
import tempfile
import threading

from devtools import Browser


def serve_pages(port, carafe):
    """The upload form and an empty page to run fetches from, on 127.0.0.1:port."""
    upload = f"""<!doctype html><title>upload</title>
<form method="post" enctype="multipart/form-data" action="{carafe}/multipart">
<input type="text" name="caption" value="Sunset"><input type="file" name="photo"></form>"""
    pages = {"/upload.html": upload, "/fetch.html": "<!doctype html><title>fetch</title><p>fetch"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((body or "not found").encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# What the page's JavaScript sees of a fetch: the status and body, or the error it threw.
FETCH = """(async () => {{
  try {{
    const response = await fetch({url}, {options});
    return {{status: response.status, body: await response.text()}};
  }} catch (error) {{
    return {{error: String(error)}};
  }}
}})()"""


async def run_fetch(page, url, options):
    result = await page.call("Runtime.evaluate", expression=FETCH.format(url=json.dumps(url), options=json.dumps(options)),
                             awaitPromise=True, returnByValue=True)
    return result.get("result", {}).get("value")


async def loaded(page, expected):
    return await page.wait_for(f"document.readyState === 'complete' && ({expected})")


async def main(carafe, page_port):
    pages = serve_pages(page_port, carafe)
    directory = tempfile.mkdtemp(prefix="carafe-browser-upload-")
    path = os.path.join(directory, "holiday photo.jpg")
    content = bytes((i * 31 + (i >> 8)) % 256 for i in range(700_000))
    with open(path, "wb") as file:
        file.write(content)
    result = {"sent": {"filename": "holiday photo.jpg", "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}}
    try:
        async with Browser() as browser:
            page = await browser.open(f"http://127.0.0.1:{page_port}/upload.html")
            await loaded(page, "!!document.querySelector('input[type=file]')")
            document = await page.call("DOM.getDocument")
            node = await page.call("DOM.querySelector", nodeId=document["root"]["nodeId"], selector="input[type=file]")
            await page.call("DOM.setFileInputFiles", files=[path], nodeId=node["nodeId"])
            result["chosen"] = await page.evaluate("document.querySelector('input[type=file]').files[0].name")
            await page.evaluate("document.querySelector('form').submit(); true")
            await loaded(page, "location.pathname === '/multipart'")
            # Chromium shows a JSON response as text in a <pre>.
            shown = await page.evaluate("(document.querySelector('pre') || document.body).textContent")
            result["received"] = json.loads(shown)

            for name, origin in (("allowed", f"http://127.0.0.1:{page_port}"), ("refused", f"http://localhost:{page_port}")):
                tab = await browser.open(f"{origin}/fetch.html")
                await loaded(tab, "!!document.querySelector('p')")
                result[name] = {
                    "origin": await tab.evaluate("location.origin"),
                    # A simple request: no preflight.
                    "get": await run_fetch(tab, f"{carafe}/json", {}),
                    # A JSON body is not a simple request: the browser asks first (OPTIONS).
                    "post": await run_fetch(tab, f"{carafe}/publish", {
                        "method": "POST", "headers": {"Content-Type": "application/json"}, "body": json.dumps({"text": "hi"})}),
                }
    finally:
        pages.shutdown()
        os.remove(path)
        os.rmdir(directory)
    print(json.dumps(result))


asyncio.run(asyncio.wait_for(main(sys.argv[1], int(sys.argv[2])), timeout=90))
