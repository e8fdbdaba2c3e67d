import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Synchronization

/// Hands each request on a connection to an `HTTPResponder` as soon as its head arrives, streams
/// the body to it with backpressure, and writes its response back, streamed or not.
///
/// It enforces the request-line and header limits of `HTTPServerConfiguration` (414, 431,
/// each followed by a close), answers parser errors with 400 and a close, sends
/// `100 Continue` when the responder first reads a body that the client holds back, runs each
/// request as a task on the connection's event loop, and cancels that task when the client
/// goes away. NIO's `HTTPServerPipelineHandler` before it holds back pipelined requests until
/// the previous response is written, so at most one request is in flight.
///
/// Backpressure, both ways: while the body's consumer does not ask for more, `read()` is held
/// back, so the socket is not read; while the socket's send queue is above its high-water mark,
/// a streamed response's `write` suspends.
final class HTTPRequestHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Waiting for a request head.
        case idle
        /// The responder is working on `head`; the body may still be arriving.
        case active(head: HTTPRequestHead, responseStarted: Bool)
        /// The connection is closing: ignore everything.
        case closing
        /// The connection speaks WebSocket now: `WebSocketHandler`, before this one, reads it.
        case upgraded
    }

    private let configuration: HTTPServerConfiguration
    private let responder: any HTTPResponder
    private let loop: EventLoopResources
    private let server: HTTPServer.SharedState
    /// The connection's timeouts, told when a request starts and ends; nil on an HTTP/2
    /// stream's channel (the connection's own handler keeps its idle timeout).
    private let connectionGuard: ConnectionGuardHandler?
    private var state = State.idle
    /// The task answering the current request, to cancel if the client goes away.
    private var task: Task<Void, Never>?
    /// Requests dispatched on this connection so far: tells a late callback whether its request
    /// is still the current one.
    private var requestCount = 0
    /// Where the current request's body goes while it arrives; nil once it has ended.
    private var bodySource: RequestBody.Producer.Source?
    /// The current request's body has been read to its end.
    private var requestEnded = false
    /// The current request's `.end` part has not come through yet.
    private var endPending = false
    /// The body's consumer has enough for now: hold back `read()` until it asks for more.
    private var readPaused = false
    /// A `read()` was held back while paused.
    private var readPending = false
    /// Streamed-response writes waiting for the socket to drain below its high-water mark.
    private var writabilityWaiters: [EventLoopPromise<Void>] = []
    /// The streamed response's heartbeat (`ResponseBodyWriter.keepAlive`), and whether the
    /// body was written to since its last beat.
    private var keepAliveTimer: RepeatedTask?
    private var wroteSinceBeat = false
    /// What to do once the current request's `.end` comes through (switch to WebSocket).
    private var afterRequestEnd: (() -> Void)?
    /// The client half-closed its side, or asked to switch protocols (after which NIO's
    /// parser reads no further request): close once the current response is out.
    private var closeAfterResponse = false
    /// The client's address when it is not the socket's peer: the one a PROXY protocol header
    /// gave (set by `ProxyProtocolHandler` before the first request).
    var clientAddress: SocketAddress?
    /// The connection speaks TLS (set by the server for its TLS listeners).
    var isSecure = false

    init(
        configuration: HTTPServerConfiguration,
        responder: any HTTPResponder,
        loop: EventLoopResources,
        server: HTTPServer.SharedState,
        connectionGuard: ConnectionGuardHandler?
    ) {
        self.configuration = configuration
        self.responder = responder
        self.loop = loop
        self.server = server
        self.connectionGuard = connectionGuard
    }

    // MARK: Reading requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (self.unwrapInboundIn(data), self.state) {
        case (.head(let head), .idle):
            self.connectionGuard?.requestHeadReceived()
            if let (status, message) = self.violatedLimit(head) {
                return self.reject(.rejection(status, message), version: head.version, context: context)
            }
            self.dispatch(head, context: context)
        case (.body(let chunk), .active):
            if self.bodySource?.yield(chunk) == .stopProducing {
                self.readPaused = true
            }
        case (.end, .active):
            self.bodySource?.finish()
            self.bodySource = nil
            self.requestEnded = true
            self.endPending = false
        case (.end, .idle) where self.endPending:
            // A request without a body was answered before its `.end` came through.
            self.endPending = false
        case (.end, .upgraded) where self.endPending:
            self.endPending = false
            self.afterRequestEnd?()
            self.afterRequestEnd = nil
        case (_, .closing), (_, .upgraded):
            break
        default:
            // NIO's pipeline handler and decoder never deliver parts out of order.
            self.server.logger.error("unexpected request part in state \(self.state); closing the connection")
            self.close(context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        if self.readPaused {
            self.readPending = true
        } else {
            context.read()
        }
    }

    private func resumeReading(context: ChannelHandlerContext) {
        self.readPaused = false
        if self.readPending {
            self.readPending = false
            context.read()
        }
    }

    /// The limit on the request line or header fields that `head` breaks, if any.
    private func violatedLimit(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String)? {
        let requestLine = head.method.rawValue.utf8.count + head.uri.utf8.count + 10  // spaces and "HTTP/1.1"
        if requestLine > self.configuration.maxRequestLine {
            return (
                .uriTooLong,
                "Request line is \(requestLine) bytes; the limit is \(self.configuration.maxRequestLine)."
            )
        }
        if head.headers.count > self.configuration.maxHeaderFields {
            return (
                .requestHeaderFieldsTooLarge,
                "Request has \(head.headers.count) header fields; the limit is \(self.configuration.maxHeaderFields)."
            )
        }
        for (name, value) in head.headers where name.utf8.count + value.utf8.count + 2 > self.configuration.maxHeaderFieldSize {
            return (
                .requestHeaderFieldsTooLarge,
                "Header field '\(name)' is \(name.utf8.count + value.utf8.count + 2) bytes; "
                    + "the limit is \(self.configuration.maxHeaderFieldSize)."
            )
        }
        return nil
    }

    // MARK: Running the responder

    private func dispatch(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        self.state = .active(head: head, responseStarted: false)
        self.endPending = true
        if head.method == .CONNECT || head.headers.contains(name: "upgrade") {
            // NIO's parser stops after a request that asks to switch protocols: unless the
            // switch happens, nothing more can be read from this connection.
            self.closeAfterResponse = true
        }
        self.requestCount &+= 1
        let number = self.requestCount
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let body: RequestBody
        let hasBody = head.headers.contains(name: "transfer-encoding")
            || (head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0) > 0
        if hasBody {
            self.requestEnded = false
            let delegate = ConnectionReadDelegate(
                eventLoop: context.eventLoop,
                produceMoreOnLoop: {
                    let (handler, context) = bound.value
                    if handler.requestCount == number { handler.resumeReading(context: context) }
                },
                terminatedOnLoop: {
                    // The consumer is gone: read on, and drop what comes.
                    let (handler, context) = bound.value
                    if handler.requestCount == number { handler.resumeReading(context: context) }
                }
            )
            let producer = RequestBody.Producer.makeSequence(
                backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
                finishOnDeinit: false,
                delegate: delegate
            )
            self.bodySource = producer.source
            var expectContinue: (@Sendable () -> Void)?
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                expectContinue = {
                    bound.eventLoop.executeInline {
                        let (handler, context) = bound.value
                        handler.sendContinue(number: number, context: context)
                    }
                }
            }
            body = RequestBody(producer.sequence, expectContinue: expectContinue)
        } else {
            // The `.end` that follows carries nothing: the request is complete now.
            self.requestEnded = true
            body = RequestBody()
        }
        var request = HTTPServerRequest(head: head, body: body, remoteAddress: self.clientAddress ?? context.channel.remoteAddress)
        request.isSecure = self.isSecure
        let responder = self.responder
        let logger = self.server.logger
        // The task starts at once on this thread and runs until its first suspension; a handler
        // that never suspends is answered without any job being scheduled. After a suspension
        // it resumes on this loop, its executor.
        let task = Task.immediateDetached(executorPreference: self.loop.executor) {
            let response = await responder.respond(to: request)
            await HTTPRequestHandler.send(response, number: number, bound: bound, logger: logger)
        }
        // Unless it has already answered (and maybe started the next pipelined request), or
        // handed over to a task of its own (a streamed body, a WebSocket).
        switch self.state {
        case .active, .upgraded: if number == self.requestCount, self.task == nil { self.task = task }
        case .idle, .closing: break
        }
    }

    private func sendContinue(number: Int, context: ChannelHandlerContext) {
        guard number == self.requestCount, case .active(let head, false) = self.state, !self.requestEnded else { return }
        context.writeAndFlush(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
    }

    // MARK: Writing responses

    /// Writes `response` for request `number`, streaming its body if it has a producer.
    private static func send(
        _ response: HTTPServerResponse,
        number: Int,
        bound: NIOLoopBound<(HTTPRequestHandler, ChannelHandlerContext)>,
        logger: Logger
    ) async {
        let loop = bound.eventLoop
        switch response.body {
        case .buffer(let buffer):
            loop.executeInline {
                let (handler, context) = bound.value
                guard let head = handler.startResponse(response, number: number, context: context) else { return }
                if buffer.readableBytes > 0 && head.method != .HEAD {
                    context.write(handler.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                }
                handler.endResponse(context: context, complete: true)
            }
        case .stream(let length, let produce):
            let start: @Sendable () -> HTTPRequestHead? = {
                let (handler, context) = bound.value
                return handler.startResponse(response, number: number, context: context)
            }
            // The task is on the loop unless the responder left it for good.
            guard let head = loop.inEventLoop ? start() : try? await loop.submit(start).get() else { return }
            if head.method == .HEAD {
                return loop.executeInline { bound.value.0.endResponse(context: bound.value.1, complete: true) }
            }
            let writer = ChannelBodyWriter(bound: bound, number: number)
            // The producer may run for hours (an event stream): it runs in a task of its own, so
            // that the memory this task grew to while routing and handling is freed now.
            Self.continueInNewTask(number: number, bound: bound) {
                var complete = true
                do {
                    try await produce(writer)
                } catch {
                    logger.debug("response body for \(head.method.rawValue) \(head.uri) failed: \(error)")
                    complete = false
                }
                let written = writer.bytesWritten
                let completed = complete
                loop.executeInline {
                    let (handler, context) = bound.value
                    guard handler.requestCount == number, case .active = handler.state else { return }
                    handler.endResponse(context: context, complete: completed && (length == nil || length == written.value))
                }
            }
        case .webSocket(let options, let run):
            let upgrade: @Sendable () -> EventLoopFuture<WebSocket?> = {
                let (handler, context) = bound.value
                return handler.upgrade(response.headers, options: options, number: number, context: context)
            }
            guard let socket = try? await (loop.inEventLoop ? upgrade() : loop.flatSubmit(upgrade)).get() else { return }
            // Like a streamed body, the connection may last for hours: a task of its own.
            Self.continueInNewTask(number: number, bound: bound) {
                do {
                    try await run(socket)
                    socket.close(.normalClosure)
                } catch {
                    logger.debug("WebSocket handler failed: \(error)")
                    socket.close(.unexpectedServerError)
                }
            }
        }
    }

    /// Runs `body` as the request's task from now on, in place of the current one, which then
    /// ends: a new task starts small, while the current one keeps, until it ends, the memory
    /// its deepest `await` needed (routing, hooks, the handler). The new task is cancelled
    /// when the client goes away, as the current one was.
    private static func continueInNewTask(
        number: Int,
        bound: NIOLoopBound<(HTTPRequestHandler, ChannelHandlerContext)>,
        _ body: @escaping @Sendable () async -> Void
    ) {
        let cancelled = Task.isCancelled
        bound.eventLoop.executeInline {
            let handler = bound.value.0
            let task = Task.immediateDetached(executorPreference: handler.loop.executor, operation: body)
            if cancelled { task.cancel() }
            switch handler.state {
            case .active, .upgraded: if handler.requestCount == number { handler.task = task }
            case .idle, .closing: break
            }
        }
    }

    /// Answers `101 Switching Protocols` and turns the connection into a WebSocket: NIO's frame
    /// decoder and encoder and a `WebSocketHandler` take the place of the HTTP handlers, once
    /// the parser has delivered the request's end. The client sends no frame before it reads the
    /// `101`, so nothing is left in the parser. An invalid opening request is answered with 400
    /// and a close; nil then.
    private func upgrade(
        _ extraHeaders: HTTPHeaders,
        options: WebSocketOptions,
        number: Int,
        context: ChannelHandlerContext
    ) -> EventLoopFuture<WebSocket?> {
        guard number == self.requestCount, case .active(let head, false) = self.state, context.channel.isActive else {
            return context.eventLoop.makeSucceededFuture(nil)
        }
        return WebSocketHandshake.acceptHeaders(for: head, extra: extraHeaders, channel: context.channel)
            .assumeIsolated()
            .flatMap { headers -> EventLoopFuture<WebSocket?> in
                var headers = headers
                self.completeHeaders(&headers, status: .switchingProtocols, bodyLength: nil)
                self.state = .upgraded
                context.writeAndFlush(
                    self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .switchingProtocols, headers: headers))),
                    promise: nil
                )
                let switched = context.eventLoop.makePromise(of: WebSocket?.self)
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let replace = {
                    let (handler, context) = bound.value
                    do {
                        switched.succeed(try handler.replaceHTTPHandlers(options: options, context: context))
                    } catch {
                        handler.server.logger.error("could not switch the connection to WebSocket: \(error)")
                        context.close(promise: nil)
                        switched.succeed(nil)
                    }
                }
                if self.endPending { self.afterRequestEnd = replace } else { replace() }
                return switched.futureResult
            }
            .recover { _ in
                self.reject(.rejection(.badRequest, "Not a valid WebSocket opening request."), version: head.version, context: context)
                return nil
            }
            .nonisolated()
    }

    private func replaceHTTPHandlers(options: WebSocketOptions, context: ChannelHandlerContext) throws -> WebSocket {
        let webSocket = WebSocketHandler(options: options)
        let bound = NIOLoopBound(webSocket, eventLoop: context.eventLoop)
        let resume: @Sendable () -> Void = { bound.value.resumeReading() }
        let messages = WebSocketHandler.Producer.makeSequence(
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
            finishOnDeinit: false,
            delegate: ConnectionReadDelegate(eventLoop: context.eventLoop, produceMoreOnLoop: resume, terminatedOnLoop: resume)
        )
        webSocket.source = messages.source
        let pipeline = context.pipeline.syncOperations
        try pipeline.addHandlers(
            [ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: options.maxMessageSize)), WebSocketFrameEncoder(), webSocket],
            position: .before(self)
        )
        // This handler stays, last, only to cancel the task when the connection closes.
        if let connectionGuard = self.connectionGuard { pipeline.removeHandler(connectionGuard, promise: nil) }
        pipeline.removeHandler(context: try pipeline.context(handlerType: NIOHTTPResponseHeadersValidator.self), promise: nil)
        pipeline.removeHandler(context: try pipeline.context(handlerType: HTTPServerPipelineHandler.self), promise: nil)
        pipeline.removeHandler(context: try pipeline.context(handlerType: HTTPResponseEncoder.self), promise: nil)
        pipeline.removeHandler(context: try pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
        return WebSocket(messages: WebSocketMessages(messages.sequence), handler: bound, peerClose: webSocket.peerClose)
    }

    /// Writes the response head; returns the request's head, or nil if the request is no
    /// longer current (the connection closed meanwhile).
    private func startResponse(_ response: HTTPServerResponse, number: Int, context: ChannelHandlerContext) -> HTTPRequestHead? {
        guard number == self.requestCount, case .active(let request, false) = self.state else { return nil }
        // The task stays cancellable until the response ends: a streamed body's producer runs in it.
        self.state = .active(head: request, responseStarted: true)
        var headers = response.headers
        let close =
            !request.isKeepAlive || self.closeAfterResponse || self.server.isDraining || !self.requestEnded
            || headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
        self.completeHeaders(&headers, status: response.status, bodyLength: response.body.knownLength)
        if close {
            headers.replaceOrAdd(name: "connection", value: "close")
            self.closeAfterResponse = true
        } else if request.version.minor == 0 {
            headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        return request
    }

    /// Ends the current response. An incomplete one (a producer that failed or wrote the wrong
    /// length) cannot be framed: the connection closes without the final chunk.
    private func endResponse(context: ChannelHandlerContext, complete: Bool) {
        self.stopKeepAlive()
        guard complete else { return self.close(context: context) }
        if self.closeAfterResponse || !self.requestEnded {
            self.state = .closing
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        } else {
            // Become idle before `.end`: writing it may deliver the next pipelined request at once.
            self.state = .idle
            self.task = nil
            self.connectionGuard?.responseSent()
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// Writes one chunk of a streamed body; `promise` succeeds once the socket can take more.
    fileprivate func writeChunk(_ chunk: ByteBuffer, number: Int, context: ChannelHandlerContext, promise: EventLoopPromise<Void>) {
        guard number == self.requestCount, case .active(_, true) = self.state, context.channel.isActive else {
            return promise.fail(HTTPBodyError.connectionClosed)
        }
        context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
        self.wroteSinceBeat = true
        if context.channel.isWritable {
            promise.succeed()
        } else {
            self.writabilityWaiters.append(promise)
        }
    }

    /// Starts the streamed response's heartbeat: `chunk` after every `interval` with no write.
    fileprivate func keepAlive(every interval: TimeAmount, with chunk: ByteBuffer, number: Int, context: ChannelHandlerContext) {
        guard number == self.requestCount, case .active(_, true) = self.state else { return }
        self.keepAliveTimer?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.keepAliveTimer = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (handler, context) = bound.value
            if handler.wroteSinceBeat {
                handler.wroteSinceBeat = false
            } else if context.channel.isWritable {
                context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
            }
        }
    }

    private func stopKeepAlive() {
        self.keepAliveTimer?.cancel()
        self.keepAliveTimer = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            let waiters = self.writabilityWaiters
            self.writabilityWaiters = []
            waiters.forEach { $0.succeed() }
        }
        context.fireChannelWritabilityChanged()
    }

    /// Adds the headers every response carries: framing, `Date` and `Server`.
    private func completeHeaders(_ headers: inout HTTPHeaders, status: HTTPResponseStatus, bodyLength: Int?) {
        if let bodyLength, status.code >= 200 && status != .noContent && status != .notModified {
            headers.replaceOrAdd(name: "content-length", value: String(bodyLength))
        }
        headers.add(name: "date", value: self.loop.dateCache.now)
        if let serverName = self.configuration.serverName, !headers.contains(name: "server") {
            headers.add(name: "server", value: serverName)
        }
    }

    // MARK: Errors and the end of the connection

    /// Answers with an error and closes the connection: what follows on it cannot be trusted.
    private func reject(_ response: HTTPServerResponse, version: HTTPVersion, context: ChannelHandlerContext) {
        self.state = .closing
        self.task?.cancel()
        var headers = response.headers
        self.completeHeaders(&headers, status: response.status, bodyLength: response.body.knownLength)
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))), promise: nil)
        if case .buffer(let body) = response.body {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            self.server.logger.debug("connection error: \(error)")
            return self.close(context: context)
        }
        switch self.state {
        case .closing, .upgraded:
            return
        case .active(_, let responseStarted):
            // A malformed body: the responder's stream fails; no second response can be framed.
            self.bodySource?.finish(parserError)
            self.bodySource = nil
            if responseStarted { return self.close(context: context) }
        case .idle:
            break
        }
        self.server.logger.debug("malformed request from \(context.channel.remoteAddress?.description ?? "?"): \(parserError)")
        if parserError == .headerOverflow {
            let c = self.configuration
            self.reject(
                .rejection(
                    .requestHeaderFieldsTooLarge,
                    "Request head is too large (limits: \(c.maxHeaderFields) header fields of \(c.maxHeaderFieldSize) bytes)."
                ),
                version: .http1_1,
                context: context
            )
        } else {
            self.reject(.rejection(.badRequest, "Malformed HTTP request (\(parserError))."), version: .http1_1, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // The client sent all it will send: it either closed (a tab closed, a client gave
            // up) or only half-closed. A FIN cannot tell the two apart, so the handler's task is
            // cancelled, as for a closed connection, and whatever response it still makes is
            // written before the server closes its side.
            if case .active = self.state {
                self.closeAfterResponse = true
                self.task?.cancel()
                self.bodySource?.finish(HTTPBodyError.connectionClosed)
                self.bodySource = nil
            } else {
                self.close(context: context)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func close(context: ChannelHandlerContext) {
        self.state = .closing
        self.stopKeepAlive()
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state = .closing
        self.stopKeepAlive()
        self.task?.cancel()
        self.task = nil
        self.bodySource?.finish(HTTPBodyError.connectionClosed)
        self.bodySource = nil
        let waiters = self.writabilityWaiters
        self.writabilityWaiters = []
        waiters.forEach { $0.fail(HTTPBodyError.connectionClosed) }
        context.fireChannelInactive()
    }
}

/// Writes a streamed response's chunks to the connection, suspending while it is full.
private struct ChannelBodyWriter: ResponseBodyWriter {
    let bound: NIOLoopBound<(HTTPRequestHandler, ChannelHandlerContext)>
    let number: Int
    let bytesWritten = ByteCounter()

    func write(_ chunk: ByteBuffer) async throws {
        guard chunk.readableBytes > 0 else { return }
        let promise = self.bound.eventLoop.makePromise(of: Void.self)
        self.bytesWritten.add(chunk.readableBytes)
        self.bound.eventLoop.executeInline { [bound, number] in
            let (handler, context) = bound.value
            handler.writeChunk(chunk, number: number, context: context, promise: promise)
        }
        try await promise.futureResult.get()
    }

    func keepAlive(every interval: Duration, with chunk: ByteBuffer) {
        self.bound.eventLoop.executeInline { [bound, number] in
            let (handler, context) = bound.value
            handler.keepAlive(every: TimeAmount(interval), with: chunk, number: number, context: context)
        }
    }
}

/// Counts the bytes a streamed response has written.
final class ByteCounter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { self.count.load(ordering: .relaxed) }
    func add(_ bytes: Int) { self.count.add(bytes, ordering: .relaxed) }
}
