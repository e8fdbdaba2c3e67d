"""Headless Chromium on `hello` over HTTPS: the page comes over h2, an EventSource on the same
origin gets an event published by a fetch, and a wss:// WebSocket echoes (on the same h2
connection: the server advertises RFC 8441).

    python3 https_browser.py https://127.0.0.1:PORT CERT.pem

Chromium trusts the test's self-signed certificate by the SHA-256 of its public key
(`--ignore-certificate-errors-spki-list`), so every other certificate check stays on. Prints
one JSON object with what the page saw; the Swift test asserts on it.
"""
import asyncio
import base64
import hashlib
import json
import subprocess
import sys

from devtools import Browser


def spki_hash(cert):
    """base64(SHA-256(SubjectPublicKeyInfo)), the form Chromium's switch takes."""
    key = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=key, capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


PAGE_SCRIPT = """
window.seen = {events: [], echo: null, errors: []};
const source = new EventSource('/sse');
source.onopen = () => fetch('/publish', {method: 'POST', body: 'over h2'})
    .then(r => r.text()).then(t => window.seen.published = t, e => window.seen.errors.push('fetch ' + e));
source.onmessage = (e) => window.seen.events.push(e.data);
source.onerror = () => window.seen.errors.push('eventsource error');
const socket = new WebSocket('wss://' + location.host + '/ws');
socket.onopen = () => socket.send('over wss');
socket.onmessage = (e) => { window.seen.echo = e.data; socket.close(); };
socket.onerror = () => window.seen.errors.push('websocket error');
true
"""


async def main(base, cert):
    async with Browser([f"--ignore-certificate-errors-spki-list={spki_hash(cert)}"]) as browser:
        page = await browser.open(f"{base}/plaintext")
        result = {"loaded": await page.wait_for(
            f"location.href === {json.dumps(base + '/plaintext')} && document.readyState === 'complete' && document.body !== null")}
        result["text"] = await page.evaluate("document.body.innerText")
        result["protocol"] = await page.evaluate("performance.getEntries()[0].nextHopProtocol")
        await page.evaluate(PAGE_SCRIPT)
        await page.wait_for("window.seen.events.length > 0 && window.seen.echo !== null")
        result.update(await page.evaluate("window.seen") or {"errors": ["the page script did not run"]})
        # The fetch's own entry: it went over the page's h2 connection too.
        result["publishProtocol"] = await page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.endsWith('/publish')).map(e => e.nextHopProtocol)")
        print(json.dumps(result))


asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), timeout=60))
