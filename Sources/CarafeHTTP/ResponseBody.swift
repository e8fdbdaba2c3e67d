import NIOCore
import NIOHTTP1

/// A response body: bytes in memory, or a stream that a producer writes with backpressure.
///
///     .buffer(ByteBuffer(string: "Hello"))
///     .stream(length: nil) { writer in
///         for try await row in rows { try await writer.write(ByteBuffer(string: row)) }
///     }
///
/// A stream of unknown length goes out with chunked transfer encoding (HTTP/1.1) or is ended
/// by closing the connection (HTTP/1.0). `length`, when given, becomes the `Content-Length`
/// and the producer must write exactly that many bytes, or the connection is closed.
///
/// `.webSocket` switches the connection to WebSocket: the server answers `101 Switching
/// Protocols` (the response's status is ignored; its headers are added) and runs the handler
/// with the connection; the connection ends with it. The request must be a valid opening
/// request (`WebSocketHandshake.problem(with:)` is nil), or the server answers 400 and closes.
public enum ResponseBody: Sendable {
    case buffer(ByteBuffer)
    case stream(length: Int?, @Sendable (any ResponseBodyWriter) async throws -> Void)
    case webSocket(WebSocketOptions, @Sendable (WebSocket) async throws -> Void)

    /// The length, when known before the body is sent.
    public var knownLength: Int? {
        switch self {
        case .buffer(let buffer): buffer.readableBytes
        case .stream(let length, _): length
        case .webSocket: nil
        }
    }
}

/// Where a streamed response's producer writes its chunks.
///
/// Invariant: `write` returns once the chunk is queued on the socket *and* the socket's send
/// queue is below its high-water mark; while the client reads slowly, `write` suspends (the
/// Node.js writable-stream contract), so a server never buffers more than the mark per
/// connection. It throws `HTTPBodyError.connectionClosed` once the client has gone.
public protocol ResponseBodyWriter: Sendable {
    func write(_ chunk: ByteBuffer) async throws

    /// From now until the body ends, writes `chunk` whenever nothing was written for `interval`:
    /// a heartbeat that keeps proxies from closing an idle stream and finds clients that left
    /// (the write fails, the connection closes, the producer's task is cancelled). It runs on
    /// the connection's event loop, with no task of its own, and skips a beat while the client
    /// reads slowly. Only for bodies of unknown length; the test client ignores it.
    func keepAlive(every interval: Duration, with chunk: ByteBuffer)

    /// Hands the rest of this body over to a `DetachedStream`, so that a long-lived stream
    /// (10,000 idle event streams) costs no task, no HTTP handlers and no timer of its own:
    /// the producer then returns, and the response lives on until the stream ends. Nil when
    /// this writer cannot (HTTP/2, a body of known length, a request body still arriving, a
    /// wrapping writer such as compression, the test client): the producer keeps writing here.
    func detach() async -> DetachedStream?

    /// Sets the trailer fields that end the body, sent after its last chunk: a checksum
    /// computed while streaming, gRPC's `grpc-status`. Call it after the last `write`; a second
    /// call replaces the first. Over HTTP/2 they are a HEADERS frame with END_STREAM after the
    /// DATA; over HTTP/1.1 the last chunk of a chunked body. They cannot be carried, and are
    /// dropped, on a body of known `length` over HTTP/1.1 and for an HTTP/1.0 client. Announce
    /// them with a `Trailer` response header (`trailer: x-checksum`) for clients that look.
    ///
    /// Throws `ResponseTrailersError` for a field that must not be a trailer (RFC 9110 6.5.1:
    /// framing, routing, authentication, content and connection fields) or is not a valid
    /// field, so the response cannot be broken by it.
    func writeTrailers(_ trailers: HTTPHeaders) async throws
}

extension ResponseBodyWriter {
    public func keepAlive(every interval: Duration, with chunk: ByteBuffer) {}

    public func detach() async -> DetachedStream? { nil }

    /// Drops them: a writer that cannot carry trailers.
    public func writeTrailers(_ trailers: HTTPHeaders) async throws {
        try ResponseTrailersError.check(trailers)
    }
}

/// A trailer field a response may not send.
public struct ResponseTrailersError: Error, CustomStringConvertible {
    public let description: String

    /// Fields that cannot be trailers: what frames, routes, authenticates or describes the
    /// content, and the connection-specific ones HTTP/2 forbids anywhere.
    static let forbidden: Set<String> = [
        "content-length", "transfer-encoding", "content-type", "content-encoding", "content-range", "trailer", "host",
        "connection", "keep-alive", "proxy-connection", "upgrade", "te", "cache-control", "expect", "max-forwards", "pragma",
        "range", "authorization", "www-authenticate", "proxy-authenticate", "proxy-authorization", "set-cookie", "cookie",
        "age", "expires", "date", "location", "retry-after", "vary", "warning",
    ]

    /// Throws for the first field of `trailers` that may not be sent as one.
    public static func check(_ trailers: HTTPHeaders) throws {
        for (name, value) in trailers {
            let lower = name.lowercased()
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte), !name.hasPrefix(":") else {
                throw ResponseTrailersError(description: "'\(name)' is not a valid trailer field name.")
            }
            guard !Self.forbidden.contains(lower) else {
                throw ResponseTrailersError(description: "'\(name)' may not be sent as a trailer (RFC 9110 6.5.1).")
            }
            guard !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) else {
                throw ResponseTrailersError(description: "The value of trailer '\(name)' has a line break or NUL.")
            }
        }
    }

    /// RFC 9110's `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
