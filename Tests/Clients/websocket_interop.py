"""A real WebSocket client (the `websockets` package) against a Carafe echo route.

    python3 websocket_interop.py ws://127.0.0.1:PORT/ws

Prints one JSON object: what each exchange gave. The Swift test asserts on it.
"""
import asyncio
import json
import sys
import urllib.error
import urllib.request

import websockets


async def main(url):
    result = {}
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        await ws.send("héllo")
        result["text"] = await ws.recv()
        await ws.send(bytes(range(256)) * 300)
        echoed = await ws.recv()
        result["binary"] = isinstance(echoed, bytes) and echoed == bytes(range(256)) * 300
        await ws.send(["frag", "ment", "ed"])  # one message in three frames
        result["fragmented"] = await ws.recv()
        latency = await (await ws.ping(b"probe"))
        result["pong"] = latency >= 0
        await ws.send("x" * (1 << 20))  # the library's default limit; hello's is 16 MiB
        result["oneMiB"] = len(await ws.recv())
        await ws.send(b"x" * (4 << 20))  # what the peers' echo contract needs
        result["fourMiB"] = len(await ws.recv())
        await ws.close(code=4001, reason="done")
        result["closeCode"] = ws.close_code
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        try:
            await ws.send(b"x" * ((16 << 20) + 1))  # one past hello's limit
            await ws.recv()
            result["tooBig"] = "echoed"
        except websockets.ConnectionClosed as closed:
            # The server refuses the frame from its header and closes while the client is
            # still sending 16 MiB: the close frame may be lost to the reset (-1 then).
            result["tooBig"] = closed.rcvd.code if closed.rcvd else -1
        except OSError:
            result["tooBig"] = -1
    plain = urllib.request.Request(url.replace("ws://", "http://", 1))
    try:
        urllib.request.urlopen(plain, timeout=5)
        result["plainGet"] = 200
    except urllib.error.HTTPError as refused:
        result["plainGet"] = refused.code
        result["plainGetUpgrade"] = refused.headers.get("Upgrade")
    print(json.dumps(result))


asyncio.run(asyncio.wait_for(main(sys.argv[1]), timeout=30))
