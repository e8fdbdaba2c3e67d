"""Two real WebSocket clients (the `websockets` package) in a room relayed by a hub.

    python3 websocket_relay.py http://127.0.0.1:PORT

`hello`'s /ws-relay: what a client sends reaches every subscriber, and so does a POST /publish;
a client that leaves is no longer counted. Prints one JSON object for the Swift test.
"""
import asyncio
import json
import sys
import urllib.request

import websockets


def publish(base, text):
    request = urllib.request.Request(base + "/publish", data=text.encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.read())


async def main(base):
    url = base.replace("http://", "ws://") + "/ws-relay"
    result = {}
    alice = await websockets.connect(url, compression=None, max_size=None)
    bob = await websockets.connect(url, compression=None, max_size=None)
    await asyncio.sleep(0.3)  # both handlers have handed their sessions to the hub
    await alice.send("hello from alice")
    result["alice"] = await asyncio.wait_for(alice.recv(), 5)
    result["bob"] = await asyncio.wait_for(bob.recv(), 5)
    result["queued"] = await asyncio.to_thread(publish, base, "x" * 65536)  # the largest publish: a 64-bit length field
    result["bobLong"] = len(await asyncio.wait_for(bob.recv(), 5))
    result["aliceLong"] = len(await asyncio.wait_for(alice.recv(), 5))
    result["pong"] = await asyncio.wait_for(await alice.ping(b"probe"), 5) >= 0
    await alice.close(4001, "bye")
    result["aliceClose"] = alice.close_code
    await asyncio.sleep(0.3)
    result["queuedAfterAliceLeft"] = await asyncio.to_thread(publish, base, "after")
    result["bobAfter"] = await asyncio.wait_for(bob.recv(), 5)
    await bob.close()
    print(json.dumps(result))


asyncio.run(asyncio.wait_for(main(sys.argv[1]), 30))
