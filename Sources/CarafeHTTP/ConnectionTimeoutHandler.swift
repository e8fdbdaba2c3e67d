import NIOCore

/// Closes connections that hold a slot without doing work: one idle between requests for
/// longer than the keep-alive timeout, and one that takes longer than the request-header
/// timeout to send a request head (a slow-loris client), which first gets a 408.
///
/// It sits first in the pipeline and sees raw bytes. The request handler tells it when a
/// request head is complete and when a response has been written, as outbound user events
/// (`RequestLifecycle`).
///
/// Moving a deadline costs a clock read, not a timer: one timer per connection fires at the
/// earliest deadline it was armed for and, if the deadline has moved on since, re-arms itself.
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
    private var state = State.busy
    /// When the connection times out in its current state; nil while busy.
    private var deadline: NIODeadline?
    /// The one pending timer and when it fires: never later than `deadline`.
    private var timer: (task: Scheduled<Void>, at: NIODeadline)?

    init(keepAliveTimeout: TimeAmount, requestHeaderTimeout: TimeAmount) {
        self.keepAliveTimeout = keepAliveTimeout
        self.requestHeaderTimeout = requestHeaderTimeout
    }

    func channelActive(context: ChannelHandlerContext) {
        self.enter(.idle, context: context)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.enter(.idle, context: context) }
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
            self.enter(.readingHead, context: context)
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case RequestLifecycle.headReceived:
            self.enter(.busy, context: context)
            promise?.succeed()
        case RequestLifecycle.responseSent:
            self.enter(.idle, context: context)
            promise?.succeed()
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    private func enter(_ state: State, context: ChannelHandlerContext) {
        self.state = state
        switch state {
        case .idle: self.deadline = .now() + self.keepAliveTimeout
        case .readingHead: self.deadline = .now() + self.requestHeaderTimeout
        case .busy: self.deadline = nil
        }
        if let deadline = self.deadline, deadline < self.timer?.at ?? .distantFuture {
            self.timer?.task.cancel()
            self.armTimer(at: deadline, context: context)
        }
    }

    private func armTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.timer = nil
            handler.timerFired(context: context)
        }
        self.timer = (task, deadline)
    }

    private func timerFired(context: ChannelHandlerContext) {
        guard let deadline = self.deadline else { return }  // busy: re-armed on the next state change
        guard deadline <= .now() else { return self.armTimer(at: deadline, context: context) }
        switch self.state {
        case .idle, .busy:
            context.close(promise: nil)
        case .readingHead:
            // The head never completed: say so, then hang up.
            let answer = context.channel.allocator.buffer(string: "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            let channel = context.channel
            context.writeAndFlush(NIOAny(answer)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private func cancelTimer() {
        self.timer?.task.cancel()
        self.timer = nil
        self.deadline = nil
    }
}
