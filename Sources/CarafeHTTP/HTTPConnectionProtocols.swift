import Logging
import NIOCore

/// Secures a listener's connections (TLS): the hook that CarafeTLS fills, so that CarafeHTTP
/// itself links no TLS library.
///
/// The server calls it for each connection accepted on a listener of
/// `HTTPServerConfiguration.tlsBinds`, before any HTTP handler is added.
public protocol HTTPConnectionSecurity: Sendable {
    /// Adds the handlers that secure `channel`, offering `applicationProtocols` (ALPN, most
    /// preferred first), and calls `negotiated` on the channel's event loop once the handshake is
    /// done, with the protocol the client chose (nil if it chose none, which means HTTP/1.1).
    /// `negotiated` adds the HTTP handlers after those added here.
    func secure(
        _ channel: any Channel,
        applicationProtocols: [String],
        negotiated: @escaping (String?) -> EventLoopFuture<Void>
    ) throws

    /// Reads the certificate files again, for connections accepted from now on: a single
    /// process's SIGHUP (under a master, new workers load them instead). Connections already
    /// open keep what they started with. Throws, keeping what is in use, if the new files
    /// cannot be used; logs what it loaded.
    func reload(logger: Logger) throws
}

extension HTTPConnectionSecurity {
    /// Nothing to read again.
    public func reload(logger: Logger) throws {}
}

/// Serves HTTP/2 on a connection: the hook that CarafeHTTP2 fills, so that CarafeHTTP itself
/// links no HTTP/2 library.
///
/// With it set (`HTTPServerConfiguration.http2`), TLS listeners offer `h2` in ALPN and, if
/// `acceptsPriorKnowledge`, plain listeners take HTTP/2 from clients that start with its
/// connection preface (h2c with prior knowledge) besides HTTP/1.1.
public protocol HTTPConnectionHTTP2: Sendable {
    /// Whether plain listeners take HTTP/2 with prior knowledge (`--h2c`).
    var acceptsPriorKnowledge: Bool { get }

    /// Turns `channel` into an HTTP/2 connection whose every stream is a request: `streams`
    /// sets up each stream's channel, once it carries `HTTPServerRequestPart`s in and
    /// `HTTPServerResponsePart`s out (NIOHTTP2's `HTTP2FramePayloadToHTTP1ServerCodec`).
    /// Called on the channel's event loop.
    func configure(_ channel: any Channel, streams: HTTPStreamPipeline) -> EventLoopFuture<Void>

    /// Turns `stream`, a stream channel of a connection set up by `configure`, into a tunnel
    /// of bytes: its DATA frames come in as `ByteBuffer`s, `ByteBuffer`s written go out as
    /// DATA frames, and the end of the stream is the end of the tunnel (RFC 8441's extended
    /// CONNECT: a WebSocket over HTTP/2). Called on the stream's event loop once the `200` head
    /// that accepts the CONNECT is written; the stream's HTTP/1-style codec leaves.
    func openTunnel(on stream: any Channel) throws
}

/// Adds the server's request handler (routing, hooks, limits, access log: everything an
/// HTTP/1.1 request goes through) to an HTTP/2 stream's channel.
public struct HTTPStreamPipeline: Sendable {
    let body: @Sendable (any Channel) throws -> Void

    init(_ body: @escaping @Sendable (any Channel) throws -> Void) { self.body = body }

    /// Adds the request handler last in `stream`'s pipeline; call it on the stream's event loop.
    public func configure(_ stream: any Channel) throws { try self.body(stream) }
}
