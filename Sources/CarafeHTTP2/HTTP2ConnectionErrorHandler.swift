import Logging
import NIOCore
import NIOHTTP2

/// Closes an HTTP/2 connection after a connection error: NIOHTTP2 has sent its GOAWAY already
/// (a rapid-reset flood: `ENHANCE_YOUR_CALM`; a protocol violation; a header block past
/// `maxHeaderListSize`) but leaves the socket open. Stream errors (a reset stream) concern only
/// their stream and pass.
///
/// It also closes the connection when the client has closed its side (a FIN, which the server's
/// sockets report rather than act on, for HTTP/1.1's sake): HTTP/2 has no half-closed
/// connection, NIOHTTP2 does not act on it, and the socket would stay in CLOSE-WAIT with its
/// streams (a WebSocket, an event stream) open until a write failed.
final class HTTP2ConnectionErrorHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOHTTP2Errors.StreamError { return }
        let peer = context.channel.remoteAddress?.description ?? "?"
        if error is any NIOHTTP2Error {
            self.logger.info("closing an HTTP/2 connection from \(peer): \(error)")
        } else {
            // A client that goes away without closing TLS, or resets the socket, is routine.
            self.logger.debug("closing an HTTP/2 connection from \(peer): \(error)")
        }
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
