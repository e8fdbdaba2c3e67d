import NIOCore
import NIOHTTP2

/// An HTTP/2 stream that carries bytes, not HTTP messages: the tunnel of RFC 8441, in which a
/// WebSocket's frames travel once its extended CONNECT is accepted.
///
/// DATA frames come in as `ByteBuffer`s, and `ByteBuffer`s written go out as DATA frames, so
/// the WebSocket's handlers run on it as on a TCP connection; NIOHTTP2's flow control is the
/// stream channel's writability, as a socket's buffer is. The ends map as RFC 8441 says
/// (section 5: END_STREAM for an orderly close, RST_STREAM CANCEL for an abrupt one):
///
/// - the peer's END_STREAM is `ChannelEvent.inputClosed`, what a TCP FIN is;
/// - closing the output sends END_STREAM;
/// - closing the channel sends END_STREAM too, and NIOHTTP2 closes the stream once the peer
///   has ended its side; a peer that does not within `lingering` gets RST_STREAM CANCEL.
final class HTTP2TunnelHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// How long a closed tunnel waits for the peer's END_STREAM before resetting the stream.
    static let lingering = TimeAmount.seconds(2)

    private var peerEnded = false
    private var ended = false
    private var reset: Scheduled<Void>?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .data(let frame):
            if case .byteBuffer(let bytes) = frame.data, bytes.readableBytes > 0 {
                context.fireChannelRead(self.wrapInboundOut(bytes))
            }
            if frame.endStream { self.peerEnd(context: context) }
        case .headers(let trailers) where trailers.endStream:
            self.peerEnd(context: context)
        default:
            break
        }
    }

    private func peerEnd(context: ChannelHandlerContext) {
        guard !self.peerEnded else { return }
        self.peerEnded = true
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !self.ended else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        let frame = HTTP2Frame.FramePayload.Data(data: .byteBuffer(self.unwrapOutboundIn(data)))
        context.write(self.wrapOutboundOut(.data(frame)), promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .output:
            self.end(context: context, promise: promise)
        case .all where !self.ended:
            self.end(context: context, promise: nil)
            context.channel.closeFuture.cascade(to: promise)
            if !self.peerEnded {
                self.reset = context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingering) {
                    context.close(promise: nil)
                }
            }
        case .all where self.peerEnded:
            // Both sides have ended: NIOHTTP2 closes the stream (a reset now would be an error).
            context.channel.closeFuture.cascade(to: promise)
        default:
            // Closed again before the peer ended, or once more after the output (a hang-up's
            // deadline): reset the stream now.
            context.close(mode: mode, promise: promise)
        }
    }

    /// END_STREAM, in an empty DATA frame after whatever was written.
    private func end(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard !self.ended else {
            promise?.succeed()
            return
        }
        self.ended = true
        let frame = HTTP2Frame.FramePayload.Data(data: .byteBuffer(ByteBuffer()), endStream: true)
        context.writeAndFlush(self.wrapOutboundOut(.data(frame)), promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.reset?.cancel()
        self.reset = nil
        context.fireChannelInactive()
    }
}
