import NIOCore
import NIOHTTP1
import NIOWebSocket

/// The opening handshake of RFC 6455, section 4.2: whether a request asks for a WebSocket, and
/// the `101 Switching Protocols` headers that accept it.
///
/// Over HTTP/2 (RFC 8441) a WebSocket opens with an extended CONNECT, `:method: CONNECT` and
/// `:protocol: websocket`, on a stream of its own, and is accepted with a `200`. CarafeHTTP2
/// hands such a request on as `GET` with `Upgrade: websocket`, a field that HTTP/2 forbids
/// clients to send (NIOHTTP2 refuses a request that carries it), so routes, hooks and the
/// checks here see the same request on both protocols and no client can fake one.
public enum WebSocketHandshake {
    /// True when `head` asks to switch to WebSocket (`Upgrade: websocket`), valid or not.
    public static func isRequested(by head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
    }

    /// Nil when `head` is a valid WebSocket opening request; else the status, message and
    /// headers to answer with: 426 for a plain HTTP request or a version other than 13 (saying
    /// what to upgrade to), 400 for a malformed opening request.
    public static func problem(with head: HTTPRequestHead) -> (status: HTTPResponseStatus, message: String, headers: HTTPHeaders)? {
        func bad(_ message: String) -> (HTTPResponseStatus, String, HTTPHeaders) { (.badRequest, message, [:]) }
        guard head.method == .GET else { return bad("A WebSocket opening request must use GET, not \(head.method.rawValue).") }
        if head.version.major == 2 { return Self.problemOverHTTP2(with: head) }
        guard head.version == .http1_1 else {
            return bad(
                "A WebSocket opening request must be HTTP/1.1 (or an extended CONNECT over HTTP/2), "
                    + "not HTTP/\(head.version.major).\(head.version.minor)."
            )
        }
        guard Self.isRequested(by: head) else {
            return (
                .upgradeRequired, "This route speaks WebSocket only: the request lacks 'Upgrade: websocket'.",
                ["upgrade": "websocket", "connection": "Upgrade"]
            )
        }
        guard head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }) else {
            return bad("A WebSocket opening request needs 'Connection: Upgrade'.")
        }
        let versions = head.headers[canonicalForm: "sec-websocket-version"]
        guard versions == ["13"] else {
            return (.upgradeRequired, "Only WebSocket version 13 is supported.", ["sec-websocket-version": "13"])
        }
        let keys = head.headers[canonicalForm: "sec-websocket-key"]
        guard keys.count == 1, let key = keys.first, Self.isBase64Of16Bytes(key) else {
            return bad("'Sec-WebSocket-Key' must be one base64-encoded 16-byte value.")
        }
        return nil
    }

    /// RFC 8441, section 5: the version must be 13; there is no key (nor `Sec-WebSocket-Accept`).
    private static func problemOverHTTP2(with head: HTTPRequestHead) -> (status: HTTPResponseStatus, message: String, headers: HTTPHeaders)?
    {
        guard Self.isRequested(by: head) else {
            return (
                .badRequest,
                "This route speaks WebSocket only: over HTTP/2 a WebSocket opens with an extended CONNECT "
                    + "(RFC 8441: ':method: CONNECT', ':protocol: websocket').",
                [:]
            )
        }
        guard head.headers[canonicalForm: "sec-websocket-version"] == ["13"] else {
            return (.upgradeRequired, "Only WebSocket version 13 is supported.", ["sec-websocket-version": "13"])
        }
        return nil
    }

    /// True for an HTTP/2 stream that asks for a WebSocket (an extended CONNECT, as CarafeHTTP2
    /// hands it on): it is accepted with `200` and becomes a tunnel, not switched with `101`.
    static func isExtendedConnect(_ head: HTTPRequestHead) -> Bool {
        // `contains` first: cheap, and false for nearly every request of an HTTP/2 connection.
        head.version.major == 2 && head.headers.contains(name: "upgrade") && Self.isRequested(by: head)
    }

    /// The headers of the `101` that accepts `head` (valid by `problem(with:)`): `Upgrade`,
    /// `Connection` and `Sec-WebSocket-Accept`, after `extra`. NIO's upgrader computes the
    /// accept value (SHA-1 of the key and the RFC's GUID), so no hashing code lives here.
    /// The future is complete when returned.
    static func acceptHeaders(for head: HTTPRequestHead, extra: HTTPHeaders, channel: any Channel) -> EventLoopFuture<HTTPHeaders> {
        let upgrader = NIOWebSocketServerUpgrader(
            shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture([:]) },
            upgradePipelineHandler: { channel, _ in channel.eventLoop.makeSucceededVoidFuture() }
        )
        return upgrader.buildUpgradeResponse(channel: channel, upgradeRequest: head, initialResponseHeaders: extra)
    }

    /// 16 bytes in base64 are 22 characters of the alphabet and "==".
    private static func isBase64Of16Bytes(_ key: Substring) -> Bool {
        let bytes = Array(key.utf8)
        guard bytes.count == 24, bytes[22] == UInt8(ascii: "="), bytes[23] == UInt8(ascii: "=") else { return false }
        return bytes[..<22].allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "+"), UInt8(ascii: "/"):
                true
            default:
                false
            }
        }
    }
}
