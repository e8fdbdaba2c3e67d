import NIOCore

/// Guards a connection's slot against clients that hold it without doing work: it closes one
/// idle between requests for longer than the keep-alive timeout, answers 408 to one that takes
/// longer than the request-header timeout to send a request head (a slow-loris client), and
/// 414 to a request line longer than the limit, as soon as that many bytes came without a line
/// end (so the answer is 414 whatever the line's length, not the parser's generic overflow).
///
/// It sits first in the pipeline and sees raw bytes. The request handler tells it when a
/// request head is complete and when a response has been written, by calling it directly
/// (`requestHeadReceived()`, `responseSent()`): both live on the connection's loop.
///
/// Moving a deadline costs a clock read, not a timer: one timer per connection fires at the
/// earliest deadline it was armed for and, if the deadline has moved on since, re-arms itself.
final class ConnectionGuardHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

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
    private let maxRequestLine: Int
    /// For the `Date` of the answers it writes itself.
    private let loop: EventLoopResources
    private let serverName: String?
    /// How the server drains, read when it asks this connection to.
    private let drainMode: @Sendable () -> HTTPConnectionStateMachine.DrainMode
    private var state = State.busy
    /// Set while the handler is in the pipeline.
    private var context: ChannelHandlerContext?
    /// Bytes of the current request line so far, until its line end arrives.
    private var requestLineBytes: Int?
    /// When the connection times out in its current state; nil while busy.
    private var deadline: NIODeadline?
    /// The one timer: it fires no later than `deadline`.
    private var timer = ConnectionTimer()

    init(
        configuration: HTTPServerConfiguration,
        loop: EventLoopResources,
        drainMode: @escaping @Sendable () -> HTTPConnectionStateMachine.DrainMode = { .linger }
    ) {
        self.drainMode = drainMode
        self.keepAliveTimeout = configuration.keepAliveTimeout
        self.requestHeaderTimeout = configuration.requestHeaderTimeout
        self.maxRequestLine = configuration.maxRequestLine
        self.serverName = configuration.serverName
        self.loop = loop
    }

    func channelActive(context: ChannelHandlerContext) {
        self.enter(.idle, context: context)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.enter(.idle, context: context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.cancelTimer()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.cancelTimer()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .idle = self.state {
            self.enter(.readingHead, context: context)
            self.requestLineBytes = 0
        }
        if let soFar = self.requestLineBytes {
            let bytes = self.unwrapInboundIn(data)
            if let lineEnd = bytes.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                self.requestLineBytes = nil
                if soFar + lineEnd - bytes.readerIndex > self.maxRequestLine + 1 { return self.rejectLongRequestLine(context: context) }
            } else {
                self.requestLineBytes = soFar + bytes.readableBytes
                if soFar + bytes.readableBytes > self.maxRequestLine + 1 { return self.rejectLongRequestLine(context: context) }
            }
        }
        context.fireChannelRead(data)
    }

    /// NIO's `HTTPServerPipelineHandler` closes an idle connection at once when told to
    /// quiesce, which loses a request the client is already sending. The request handler
    /// decides instead (`HTTPConnectionDrainEvent`); an idle connection then closes when its
    /// keep-alive timeout passes.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            context.fireUserInboundEventTriggered(HTTPConnectionDrainEvent(mode: self.drainMode()))
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func rejectLongRequestLine(context: ChannelHandlerContext) {
        self.requestLineBytes = nil
        self.enter(.busy, context: context)
        self.answerAndClose(
            .rejection(.uriTooLong, "Request line is longer than the limit of \(self.maxRequestLine) bytes."),
            context: context
        )
    }

    /// Writes `response` as raw bytes (the HTTP encoder is above this handler), then closes.
    private func answerAndClose(_ response: HTTPServerResponse, context: ChannelHandlerContext) {
        guard case .buffer(let body) = response.body else { return context.close(promise: nil) }
        var head = "HTTP/1.1 \(response.status.code) \(response.status.reasonPhrase)\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        head += "content-length: \(body.readableBytes)\r\ndate: \(self.loop.dateCache.now)\r\n"
        if let serverName = self.serverName { head += "server: \(serverName)\r\n" }
        var answer = context.channel.allocator.buffer(string: head + "\r\n")
        answer.writeImmutableBuffer(body)
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(answer)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// A request head was parsed: the request handler owns the connection until it responds.
    func requestHeadReceived() {
        if let context = self.context { self.enter(.busy, context: context) }
    }

    /// A response was written in full, and the connection stays open for the next request.
    func responseSent() {
        if let context = self.context { self.enter(.idle, context: context) }
    }

    private func enter(_ state: State, context: ChannelHandlerContext) {
        self.state = state
        switch state {
        case .idle: self.deadline = .now() + self.keepAliveTimeout
        case .readingHead: self.deadline = .now() + self.requestHeaderTimeout
        case .busy: self.deadline = nil
        }
        if let deadline = self.deadline { self.armTimer(at: deadline, context: context) }
    }

    private func armTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        guard !self.timer.fires(by: deadline) else { return }
        self.timer.fire(by: deadline, on: context.eventLoop) {
            self.timer.fired()
            self.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        guard let deadline = self.deadline else { return }  // busy: re-armed on the next state change
        guard deadline <= .now() else { return self.armTimer(at: deadline, context: context) }
        switch self.state {
        case .idle, .busy:
            context.close(promise: nil)
        case .readingHead:
            // The head never completed: say so, then hang up.
            self.answerAndClose(
                .rejection(.requestTimeout, "The request head did not arrive within \(self.requestHeaderTimeout)."),
                context: context
            )
        }
    }

    private func cancelTimer() {
        self.timer.cancel()
        self.deadline = nil
    }
}
