"""Opens a WebSocket handshake with the `websockets` package, as a browser page would: with an
`Origin` header and the user's cookie, and prints the status the server answered.

    python3 websocket_origin.py ws://127.0.0.1:PORT/ws ORIGIN [COOKIE]

ORIGIN "-" sends no Origin header (a native client); COOKIE, if given, is sent as `Cookie`.
Prints `101` when the socket opened (and echoed a message), else the refusal's status and
body, `403 403 Forbidden: <message>`. The Swift test asserts on it.
"""
import asyncio
import sys

import websockets
from websockets.exceptions import InvalidStatus


async def main(url, origin, cookie):
    headers = {"Cookie": cookie} if cookie else {}
    try:
        async with websockets.connect(url, origin=None if origin == "-" else origin, additional_headers=headers,
                                      compression=None, open_timeout=10) as ws:
            await ws.send("ping")
            echoed = await ws.recv()
            print("101" if echoed == "ping" else f"101 but echoed {echoed!r}")
    except InvalidStatus as error:
        response = error.response
        print(f"{response.status_code} {response.body.decode('utf-8', 'replace').strip()}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
