import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// A stream's request in and response out as HTTP/1-style parts: NIOHTTP2's
/// `HTTP2FramePayloadToHTTP1ServerCodec`, which does the work, with what it lacks for a
/// WebSocket over HTTP/2 (RFC 8441):
///
/// - it hands an extended CONNECT (`:method: CONNECT`, `:protocol: websocket`) on as the `GET`
///   with `Upgrade: websocket` that opens a WebSocket over HTTP/1.1 (NIOHTTP2's codec would
///   drop `:protocol`), so that the request takes the same route, hooks and checks
///   (`WebSocketHandshake`). HTTP/2 forbids clients to send `Upgrade` (NIOHTTP2 refuses such a
///   request), so only this translation can produce one;
/// - it can leave the pipeline (NIOHTTP2's codec cannot), for the tunnel (`HTTP2TunnelHandler`)
///   that the stream becomes once the CONNECT is accepted.
final class HTTP2StreamCodec: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let codec = HTTP2FramePayloadToHTTP1ServerCodec()
    private let extendedConnect: Bool
    private var sawHead = false

    /// `extendedConnect`: translate extended CONNECTs (the connection advertised
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL); else they pass as NIOHTTP2's codec takes them.
    init(extendedConnect: Bool) {
        self.extendedConnect = extendedConnect
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A stream carries one request: only its first HEADERS frame can be a CONNECT.
        guard self.extendedConnect, !self.sawHead, case .headers(var headers) = self.unwrapInboundIn(data) else {
            return self.codec.channelRead(context: context, data: data)
        }
        self.sawHead = true
        guard let translated = Self.webSocketRequest(headers.headers) else {
            return self.codec.channelRead(context: context, data: data)
        }
        headers.headers = translated
        self.codec.channelRead(context: context, data: NIOAny(HTTP2Frame.FramePayload.headers(headers)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.codec.write(context: context, data: data, promise: promise)
    }

    /// The header block of an extended CONNECT for a WebSocket, as the `GET` with
    /// `Upgrade: websocket` that opens one over HTTP/1.1 (with `:scheme`, `:path`,
    /// `:authority` and the other fields as they came); nil for any other request.
    static func webSocketRequest(_ headers: HPACKHeaders) -> HPACKHeaders? {
        guard headers.first(name: ":method") == "CONNECT", let target = headers.first(name: ":protocol"),
            target.lowercased() == "websocket"
        else { return nil }
        var request = HPACKHeaders()
        request.reserveCapacity(headers.count + 1)
        request.add(name: ":method", value: "GET")
        for (name, value, indexing) in headers where name != ":method" && name != ":protocol" {
            request.add(name: name, value: value, indexing: indexing)
        }
        request.add(name: "upgrade", value: "websocket")
        return request
    }
}
