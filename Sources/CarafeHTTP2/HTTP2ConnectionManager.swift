import Logging
import NIOCore
import NIOHTTP2

/// Looks after one HTTP/2 connection: a GOAWAY on graceful stop (`ChannelShouldQuiesceEvent`),
/// after which the streams in flight finish and the connection closes once the last one has;
/// a GOAWAY and a close after `idleTimeout` with no stream open; and a close after a
/// connection error (NIOHTTP2 has sent its GOAWAY already: a rapid-reset flood, a protocol
/// violation).
///
/// It sits after `NIOHTTP2Handler` and learns of streams from NIOHTTP2's stream delegate.
final class HTTP2ConnectionManager: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// NIOHTTP2's stream delegate, which tells the manager on the connection's loop.
    struct Delegate: NIOHTTP2StreamDelegate, @unchecked Sendable {
        // Called on the connection's event loop only, where the manager lives.
        unowned let manager: HTTP2ConnectionManager
        func streamCreated(_ id: HTTP2StreamID, channel: any Channel) { self.manager.streamCreated(id) }
        func streamClosed(_ id: HTTP2StreamID, channel: any Channel) { self.manager.streamClosed(id) }
    }

    private let idleTimeout: TimeAmount
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var openStreams = 0
    private var lastStreamID = HTTP2StreamID.rootStream
    private var quiescing = false
    private var idleTimer: Scheduled<Void>?

    init(idleTimeout: TimeAmount, logger: Logger) {
        self.idleTimeout = idleTimeout
        self.logger = logger
    }

    var delegate: Delegate { Delegate(manager: self) }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.armIdleTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleTimer?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.idleTimer?.cancel()
        context.fireChannelInactive()
    }

    private func streamCreated(_ id: HTTP2StreamID) {
        self.openStreams += 1
        if id > self.lastStreamID { self.lastStreamID = id }
        self.idleTimer?.cancel()
        self.idleTimer = nil
    }

    private func streamClosed(_ id: HTTP2StreamID) {
        self.openStreams -= 1
        guard self.openStreams == 0 else { return }
        if self.quiescing {
            self.context?.close(promise: nil)
        } else {
            self.armIdleTimer()
        }
    }

    private func armIdleTimer() {
        guard let context = self.context else { return }
        self.idleTimer?.cancel()
        self.idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: self.idleTimeout) { [self] in
            guard let context = self.context, self.openStreams == 0 else { return }
            self.logger.debug("HTTP/2 connection idle for \(self.idleTimeout); closing")
            self.goAway(context: context)
            context.close(promise: nil)
        }
    }

    private func goAway(context: ChannelHandlerContext) {
        let frame = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: self.lastStreamID, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(self.wrapOutboundOut(frame), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            guard !self.quiescing else { return }
            self.quiescing = true
            self.goAway(context: context)
            if self.openStreams == 0 { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOHTTP2Errors.StreamError { return }
        // A client that goes away without closing TLS, or resets the socket, is routine.
        guard error is any NIOHTTP2Error else {
            self.logger.debug("closing an HTTP/2 connection from \(context.channel.remoteAddress?.description ?? "?"): \(error)")
            return context.close(promise: nil)
        }
        self.logger.info("closing an HTTP/2 connection from \(context.channel.remoteAddress?.description ?? "?"): \(error)")
        context.close(promise: nil)
    }
}
