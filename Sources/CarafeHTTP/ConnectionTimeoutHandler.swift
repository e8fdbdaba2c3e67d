import NIOCore

/// Closes connections that hold a slot without doing work: one idle between requests for
/// longer than the keep-alive timeout, and one that takes longer than the request-header
/// timeout to send a request head (a slow-loris client), which first gets a 408.
///
/// It sits first in the pipeline and sees raw bytes. The request handler tells it when a
/// request head is complete and when a response has been written, as outbound user events
/// (`RequestLifecycle`).
final class ConnectionTimeoutHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Where the connection stands, as the request handler reports it.
    enum RequestLifecycle {
        /// A request head was parsed: the handler owns the connection until it responds.
        case headReceived
        /// A response was written in full and the connection stays open for the next request.
        case responseSent
    }

    private enum State {
        /// Between requests: waiting at most the keep-alive timeout for a first byte.
        case idle
        /// Bytes of a request head have arrived but not the whole head.
        case readingHead
        /// A request is being handled; no timeout applies.
        case busy
    }

    private let keepAliveTimeout: TimeAmount
    private let requestHeaderTimeout: TimeAmount
    private var state = State.idle
    private var timer: Scheduled<Void>?

    init(keepAliveTimeout: TimeAmount, requestHeaderTimeout: TimeAmount) {
        self.keepAliveTimeout = keepAliveTimeout
        self.requestHeaderTimeout = requestHeaderTimeout
    }

    func channelActive(context: ChannelHandlerContext) {
        self.enterIdle(context: context)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.enterIdle(context: context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.cancelTimer()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.cancelTimer()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .idle = self.state {
            self.state = .readingHead
            self.schedule(context: context, after: self.requestHeaderTimeout) { context in
                // The head never completed: say so, then hang up.
                var answer = context.channel.allocator.buffer(capacity: 96)
                answer.writeString("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                let channel = context.channel
                context.writeAndFlush(NIOAny(answer)).whenComplete { _ in channel.close(promise: nil) }
            }
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case RequestLifecycle.headReceived:
            self.cancelTimer()
            self.state = .busy
            promise?.succeed()
        case RequestLifecycle.responseSent:
            self.enterIdle(context: context)
            promise?.succeed()
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    private func enterIdle(context: ChannelHandlerContext) {
        self.state = .idle
        self.schedule(context: context, after: self.keepAliveTimeout) { context in
            context.close(promise: nil)
        }
    }

    private func schedule(
        context: ChannelHandlerContext,
        after delay: TimeAmount,
        _ expire: @escaping (ChannelHandlerContext) -> Void
    ) {
        self.cancelTimer()
        let bound = NIOLoopBound((self, context, expire), eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context, expire) = bound.value
            handler.timer = nil
            expire(context)
        }
    }

    private func cancelTimer() {
        self.timer?.cancel()
        self.timer = nil
    }
}
