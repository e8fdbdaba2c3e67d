"""WebSockets over HTTP/2 (RFC 8441), from Python's `h2` (the HTTP/2 side) and `wsproto` (the
WebSocket frames, masked as a client's), against `hello`.

    python3 websocket_h2.py sessions|refusals|drain PORT tls|plain CAFILE [READY_FILE]

sessions: two WebSockets and plain requests at once on one connection; echoes (one message
larger than the stream's window, so flow control works both ways); a relayed room (/ws-relay)
that a POST /publish on the same connection reaches; the client's close and the server's end
of the stream. refusals: what is not a valid opening request over HTTP/2. drain: opens a
WebSocket, writes READY_FILE once it echoes, and waits for the server's close (the test stops
the server then). Prints one JSON object for the Swift test.
"""
import json
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, TextMessage


class Client:
    def __init__(self, port, tls, cafile):
        self.port, self.tls = port, tls
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            context = ssl.create_default_context(cafile=cafile)
            context.set_alpn_protocols(["h2"])
            sock = context.wrap_socket(sock, server_hostname="localhost")
            assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
        self.sock = sock
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.flush()
        self.responses, self.data, self.ended, self.reset = {}, {}, set(), {}
        self.goaway, self.settings = None, None
        self.pump(lambda: self.settings is not None, 5)

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self, done, timeout):
        """Reads and handles events until done() or the timeout; False on timeout or EOF."""
        deadline = time.time() + timeout
        while not done():
            remaining = deadline - time.time()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return False
            if not chunk:
                return done()
            for event in self.conn.receive_data(chunk):
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    self.settings = {int(code): change.new_value for code, change in event.changed_settings.items()}
                elif isinstance(event, h2.events.ResponseReceived):
                    self.responses[event.stream_id] = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    self.data.setdefault(event.stream_id, bytearray()).extend(event.data)
                    # Reopen the windows as the bytes are read: the server's writes may go on.
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    self.ended.add(event.stream_id)
                elif isinstance(event, h2.events.StreamReset):
                    self.reset[event.stream_id] = int(event.error_code)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    self.goaway = int(event.error_code)
            self.flush()
        return True

    def request(self, method, path, body=None, headers=()):
        sid = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", "https" if self.tls else "http"), (":path", path),
                  (":authority", f"localhost:{self.port}")] + list(headers)
        self.conn.send_headers(sid, fields, end_stream=body is None)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=True)
        self.flush()
        return sid

    def connect_websocket(self, path, version="13", protocol="websocket"):
        """An extended CONNECT; returns (stream id, wsproto client) once the response came."""
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [
            (":method", "CONNECT"), (":protocol", protocol), (":scheme", "https" if self.tls else "http"),
            (":path", path), (":authority", f"localhost:{self.port}"), ("sec-websocket-version", version),
        ])
        self.flush()
        self.pump(lambda: sid in self.responses, 5)
        return sid, Connection(ConnectionType.CLIENT)

    def send(self, sid, ws, event):
        payload = ws.send(event)
        # Within the stream's send window, as h2 requires: wait for WINDOW_UPDATEs as needed.
        while payload:
            window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if window <= 0:
                self.pump(lambda: self.conn.local_flow_control_window(sid) > 0, 5)
                continue
            self.conn.send_data(sid, payload[:window])
            payload = payload[window:]
            self.flush()

    def messages(self, sid, ws, count, timeout=10):
        """The next `count` WebSocket events of stream `sid` (messages and the close)."""
        events, partial = [], []

        def feed():
            if sid in self.data and self.data[sid]:
                ws.receive_data(bytes(self.data[sid]))
                self.data[sid].clear()
                for event in ws.events():
                    if isinstance(event, CloseConnection):
                        events.append(event)
                    elif isinstance(event, Message):
                        # wsproto hands a message on in pieces as its bytes arrive: joined here.
                        partial.append(event)
                        if event.message_finished:
                            joined = type(event)(data=type(event.data)().join(e.data for e in partial))
                            events.append(joined)
                            partial.clear()
            return len(events) >= count

        self.pump(feed, timeout)
        return events


def describe(event):
    if isinstance(event, TextMessage):
        return {"text": event.data if len(event.data) < 100 else f"{len(event.data)} characters"}
    if isinstance(event, BytesMessage):
        return {"bytes": len(event.data)}
    if isinstance(event, CloseConnection):
        return {"close": event.code, "reason": event.reason}
    return {"event": type(event).__name__}


def sessions(client):
    result = {"enableConnectProtocol": client.settings.get(int(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL))}
    echo, echo_ws = client.connect_websocket("/ws")
    room, room_ws = client.connect_websocket("/ws-relay")
    result["echoStatus"] = client.responses[echo].get(":status")
    result["echoAccept"] = "sec-websocket-accept" in client.responses[echo]
    result["roomStatus"] = client.responses[room].get(":status")
    # A plain request on the same connection while both are open.
    plain = client.request("GET", "/plaintext")
    client.pump(lambda: plain in client.ended, 5)
    result["plaintext"] = bytes(client.data.get(plain, b"")).decode()
    client.send(echo, echo_ws, TextMessage(data="hello over h2"))
    client.send(echo, echo_ws, BytesMessage(data=bytes(range(256)) * 4))
    big = "x" * 300_000  # over the 64 KiB windows both ways
    client.send(echo, echo_ws, TextMessage(data=big))
    result["echo"] = [describe(e) for e in client.messages(echo, echo_ws, 3)]
    # The room: a POST /publish on another stream of this connection reaches it.
    time.sleep(0.3)  # the room's handler has handed the session to the hub
    publish = client.request("POST", "/publish", body=b"published to h2")
    client.pump(lambda: publish in client.ended, 5)
    result["queued"] = bytes(client.data.get(publish, b"")).decode()
    client.send(room, room_ws, TextMessage(data="said in the room"))
    result["room"] = [describe(e) for e in client.messages(room, room_ws, 2)]
    # The client closes the echo session: the server answers the close and ends the stream.
    client.send(echo, echo_ws, CloseConnection(code=4001, reason="bye"))
    result["echoClose"] = [describe(e) for e in client.messages(echo, echo_ws, 1)]
    client.pump(lambda: echo in client.ended, 5)
    result["echoEnded"] = echo in client.ended
    client.conn.end_stream(echo)
    client.flush()
    client.pump(lambda: False, 0.3)
    result["echoReset"] = client.reset.get(echo)
    # The room is still open and still hears the room.
    publish = client.request("POST", "/publish", body=b"after the echo left")
    result["roomAfter"] = [describe(e) for e in client.messages(room, room_ws, 1)]
    result["goaway"] = client.goaway
    return result


def refusals(client):
    result = {}
    # An extended CONNECT to a route that does not speak WebSocket: not a 2xx (which would open it).
    sid, _ = client.connect_websocket("/plaintext")
    client.pump(lambda: sid in client.ended or sid in client.reset, 5)
    result["plainRoute"] = [client.responses.get(sid, {}).get(":status"), bytes(client.data.get(sid, b"")).decode()]
    # A plain GET to the WebSocket route, over HTTP/2.
    sid = client.request("GET", "/ws")
    client.pump(lambda: sid in client.ended, 5)
    result["plainGet"] = [client.responses.get(sid, {}).get(":status"), bytes(client.data.get(sid, b"")).decode()]
    # Another WebSocket version.
    sid, _ = client.connect_websocket("/ws", version="8")
    client.pump(lambda: sid in client.ended or sid in client.reset, 5)
    result["version8"] = [client.responses.get(sid, {}).get(":status"), client.responses.get(sid, {}).get("sec-websocket-version")]
    # Another protocol than websocket: not taken for one.
    sid, _ = client.connect_websocket("/ws", protocol="webtransport")
    client.pump(lambda: sid in client.ended or sid in client.reset, 5)
    result["otherProtocol"] = client.responses.get(sid, {}).get(":status")
    # An unmasked frame from the client: a protocol error, closed with 1002.
    sid, ws = client.connect_websocket("/ws")
    client.conn.send_data(sid, b"\x81\x05hello")
    client.flush()
    result["unmasked"] = [describe(e) for e in client.messages(sid, ws, 1)]
    client.pump(lambda: sid in client.ended or sid in client.reset, 5)
    result["unmaskedEnded"] = sid in client.ended
    # The connection still serves.
    sid = client.request("GET", "/plaintext")
    client.pump(lambda: sid in client.ended, 5)
    result["after"] = bytes(client.data.get(sid, b"")).decode()
    return result


def drain(client, ready):
    # After a GOAWAY, h2 refuses every frame (a PING: NIOHTTP2's graceful GOAWAY asks for an ack;
    # DATA: the WebSocket's close answer), though streams below the GOAWAY's last stream go on
    # (RFC 9113, 6.8): let them through.
    closed = h2.connection.ConnectionState.CLOSED
    for input in h2.connection.ConnectionInputs:
        h2.connection.H2ConnectionStateMachine._transitions.setdefault((closed, input), (None, closed))
    sid, ws = client.connect_websocket("/ws")
    client.send(sid, ws, TextMessage(data="before the drain"))
    first = client.messages(sid, ws, 1)
    with open(ready, "w") as f:  # the test stops the server once this exists
        json.dump([describe(e) for e in first], f)
    closing = client.messages(sid, ws, 1, timeout=20)
    if closing and isinstance(closing[0], CloseConnection):
        client.send(sid, ws, closing[0].response())
    client.pump(lambda: sid in client.ended or sid in client.reset, 5)
    return {"close": [describe(e) for e in closing], "ended": sid in client.ended, "goaway": client.goaway}


if __name__ == "__main__":
    mode, port, transport, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    client = Client(port, transport == "tls", cafile)
    if mode == "drain":
        print(json.dumps(drain(client, sys.argv[5])))
    else:
        print(json.dumps({"sessions": sessions, "refusals": refusals}[mode](client)))
