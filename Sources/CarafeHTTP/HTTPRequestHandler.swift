import Logging
import NIOCore
import NIOHTTP1

/// Hands each request on a connection to an `HTTPResponder` as soon as its head arrives, streams
/// the body to it with backpressure, and writes its response back, streamed or not.
///
/// A thin adapter: what to do is decided by `HTTPConnectionStateMachine` (keep-alive, draining,
/// discarding an unread body, the read gate, the deadlines); this handler feeds it the channel's
/// events and performs its actions. Streaming a response body is in `HTTPResponseStreaming.swift`,
/// the switch to WebSocket in `HTTPWebSocketUpgrade.swift`.
///
/// It works on any channel that reads `HTTPServerRequestPart` and writes `HTTPServerResponsePart`:
/// an HTTP/1 connection (after NIO's decoder and `HTTPServerPipelineHandler`, with a
/// `ConnectionGuardHandler` in front and `speaksHTTP1` set), or an HTTP/2 stream channel behind
/// NIO's `HTTP2FramePayloadToHTTP1ServerCodec` (no guard; no `Connection` headers).
///
/// It enforces the request-line and header limits of `HTTPServerConfiguration` (414, 431,
/// each followed by a close), answers parser errors with 400 and a close, sends
/// `100 Continue` when the responder first reads a body that the client holds back, runs each
/// request as a task on the connection's event loop, and cancels that task when the client
/// goes away.
final class HTTPRequestHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let configuration: HTTPServerConfiguration
    let responder: any HTTPResponder
    let loop: EventLoopResources
    let server: HTTPServer.SharedState
    /// The connection's byte-level timeouts (HTTP/1 only), told when a request starts and ends.
    let connectionGuard: ConnectionGuardHandler?
    /// Adds `Connection` headers and may switch to WebSocket; false on an HTTP/2 stream.
    let speaksHTTP1: Bool
    var machine: HTTPConnectionStateMachine
    var context: ChannelHandlerContext?
    /// The task answering the current request, to cancel if the client goes away.
    var task: Task<Void, Never>?
    /// The current request's head, and where its body goes while it arrives.
    var head: HTTPRequestHead?
    var bodySource: RequestBody.Producer.Source?
    /// The current request's trailers, while its body may still bring them.
    var trailers: RequestTrailers?
    /// Told when the current response has ended, with what was written.
    var completion: ResponseCompletion?
    var responseBytes = 0
    /// The status of the response head written for the current request (`ResponseSummary.status`).
    var statusWritten: HTTPResponseStatus?
    var requestStart = NIODeadline.uptimeNanoseconds(0)
    /// Streamed-response writes waiting for the socket to drain below its high-water mark.
    var writers = WritabilityWaiters()
    /// The streamed response's heartbeat (`ResponseBodyWriter.keepAlive`), and whether the
    /// body was written to since its last beat.
    var keepAliveTimer: RepeatedTask?
    var keepAliveBeat: (interval: TimeAmount, chunk: ByteBuffer)?
    var wroteSinceBeat = false
    /// What to do once the current request's `.end` comes through (switch to WebSocket).
    var afterRequestEnd: (() -> Void)?
    /// The one timer for the machine's deadlines.
    private var timer = ConnectionTimer()
    /// The client's address when it is not the socket's peer: the one a PROXY protocol header
    /// gave (set by `ProxyProtocolHandler` before the first request).
    var clientAddress: SocketAddress?
    /// The connection speaks TLS (set by the server for its TLS listeners): `isSecure` of requests.
    var isSecure = false
    /// One flush per read (HTTP/1): a response that ends while the requests of a read are being
    /// handled (pipelined requests answered at once) is written but flushed when the read is
    /// complete, so a batch of answers leaves in one `writev` (and over TLS in one flush of
    /// records). A response that ends later, from its task, is flushed at once.
    private var inReadBatch = false
    /// Nesting of `endResponse` (writing `.end` can deliver the next pipelined request, whose
    /// answer may end inside it); the outermost one flushes.
    private var endingResponses = 0
    private var flushPending = false

    init(
        configuration: HTTPServerConfiguration,
        responder: any HTTPResponder,
        loop: EventLoopResources,
        server: HTTPServer.SharedState,
        connectionGuard: ConnectionGuardHandler?,
        speaksHTTP1: Bool = true
    ) {
        self.configuration = configuration
        self.responder = responder
        self.loop = loop
        self.server = server
        self.connectionGuard = connectionGuard
        self.speaksHTTP1 = speaksHTTP1
        self.machine = HTTPConnectionStateMachine(timeouts: configuration.connectionTimeouts)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.cancelTimer()
        self.context = nil
    }

    // MARK: Reading requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if self.speaksHTTP1 { self.inReadBatch = true }
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.connectionGuard?.requestHeadReceived()
            if let (status, message) = self.violatedLimit(head) {
                self.machine.rejected()
                return self.reject(.rejection(status, message), version: head.version, context: context)
            }
            let now = NIODeadline.now()
            switch self.machine.receivedHead(.init(head), now: now) {
            case .dispatch(let number, let hasBody):
                self.requestStart = now
                self.dispatch(head, number: number, hasBody: hasBody, context: context)
            case .reject(let status, let message):
                self.server.logger.debug("rejected a request from \(context.channel.remoteAddress?.description ?? "?"): \(message)")
                self.reject(.rejection(status, message), version: head.version, context: context)
            case .close:
                self.server.logger.error("a request head out of order; closing the connection")
                self.close(context: context)
            }
        case .body(let chunk):
            switch self.machine.receivedBodyPart(bytes: chunk.readableBytes, now: .now()) {
            case .deliver:
                if self.bodySource?.yield(chunk) == .stopProducing {
                    self.machine.bodyConsumerPaused(now: .now())
                }
            case .drop:
                break
            case .close:
                self.server.logger.debug(
                    "the unread rest of a request body is over \(self.machine.timeouts.maxDiscardedBody) bytes; closing"
                )
                self.close(context: context)
            }
        case .end(let trailers):
            self.receivedTrailers(trailers)
            switch self.machine.receivedEnd(now: .now()) {
            case .finishBody:
                self.bodySource?.finish()
                self.bodySource = nil
            case .discardEnded:
                self.connectionGuard?.responseSent()
            case .none:
                break
            case .switchProtocols:
                self.afterRequestEnd?()
                self.afterRequestEnd = nil
            }
        }
        self.afterEvent(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.inReadBatch = false
        if self.endingResponses == 0 { self.flushIfPending(context: context) }
        context.fireChannelReadComplete()
    }

    private func flushIfPending(context: ChannelHandlerContext) {
        guard self.flushPending else { return }
        self.flushPending = false
        context.flush()
    }

    func read(context: ChannelHandlerContext) {
        if self.machine.readRequested() {
            context.read()
        }
    }

    /// Performs what every event may leave to do: a `read()` the gate let through, a deadline
    /// that moved earlier.
    func afterEvent(context: ChannelHandlerContext) {
        if self.machine.takeReleasedRead() {
            context.read()
        }
        self.syncTimer(context: context)
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

    private func dispatch(_ head: HTTPRequestHead, number: Int, hasBody: Bool, context: ChannelHandlerContext) {
        self.head = head
        self.responseBytes = 0
        self.statusWritten = nil
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let body: RequestBody
        if hasBody {
            let resume: @Sendable () -> Void = {
                let (handler, context) = bound.value
                handler.machine.bodyConsumerResumed(number: number, now: .now())
                handler.afterEvent(context: context)
            }
            let producer = RequestBody.Producer.makeSequence(
                backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
                finishOnDeinit: false,
                // The consumer wants more, or is gone (then what comes is dropped): read on.
                delegate: ConnectionReadDelegate(eventLoop: context.eventLoop, produceMoreOnLoop: resume, terminatedOnLoop: resume)
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
            self.trailers?.fail(HTTPBodyError.connectionClosed)  // a pipelined request's, never read
            self.trailers = RequestTrailers.pending()
        } else {
            body = RequestBody()
        }
        let completion = ResponseCompletion()
        self.completion = completion
        var request = HTTPServerRequest(
            head: head,
            body: body,
            remoteAddress: self.clientAddress ?? context.channel.remoteAddress,
            completion: completion
        )
        request.isSecure = self.isSecure
        if hasBody, let trailers = self.trailers { request.trailers = trailers }
        request.deadline = RequestDeadline { timeout, origin in
            bound.eventLoop.executeInline {
                let (handler, context) = bound.value
                guard handler.machine.setHandlerTimeout(number: number, timeout, origin: origin) else { return }
                handler.afterEvent(context: context)
            }
        }
        let responder = self.responder
        let logger = self.server.logger
        let drain = self.server.drainSignal
        // The task starts at once on this thread and runs until its first suspension; a handler
        // that never suspends is answered without any job being scheduled. After a suspension
        // it resumes on this loop, its executor.
        let task = Task.immediateDetached(executorPreference: self.loop.executor) {
            let response = await DrainSignal.$current.withValue(drain) { await responder.respond(to: request) }
            await HTTPRequestHandler.send(response, number: number, bound: bound, logger: logger)
        }
        // Unless it has already answered (and maybe started the next pipelined request), or
        // handed over to a task of its own (a streamed body, a WebSocket).
        if self.machine.isCurrent(number) || self.machine.isUpgraded, self.task == nil { self.task = task }
    }

    private func sendContinue(number: Int, context: ChannelHandlerContext) {
        guard self.machine.continueRequested(number: number), let head = self.head else { return }
        context.writeAndFlush(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
    }

    // MARK: Writing responses

    /// Writes the response head; returns the request's head, or nil if the request is no
    /// longer current (the connection closed, a timeout answered it).
    func startResponse(_ response: HTTPServerResponse, number: Int, context: ChannelHandlerContext) -> HTTPRequestHead? {
        guard let request = self.head else { return nil }
        if !self.speaksHTTP1, (200..<300).contains(response.status.code), WebSocketHandshake.isExtendedConnect(request) {
            // A 2xx would tell the client that its WebSocket is open (RFC 8441), and the body
            // would reach it as frames.
            self.reject(
                .rejection(.badRequest, "\(request.uri) does not accept a WebSocket (an extended CONNECT)."),
                version: request.version,
                context: context
            )
            return nil
        }
        var headers = response.headers
        let wantsClose =
            self.server.isDraining
            || (headers.contains(name: "connection") && headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" })
        guard case .write(let close) = self.machine.startResponse(number: number, wantsClose: wantsClose) else { return nil }
        self.completeHeaders(&headers, status: response.status, bodyLength: response.body.knownLength)
        if self.speaksHTTP1 {
            if close {
                headers.replaceOrAdd(name: "connection", value: "close")
            } else if request.version.minor == 0 {
                headers.replaceOrAdd(name: "connection", value: "keep-alive")
            }
        } else {
            headers.remove(name: "connection")
        }
        let head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        self.statusWritten = response.status
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        self.syncTimer(context: context)
        return request
    }

    /// Ends the current response. An incomplete one (a producer that failed or wrote the wrong
    /// length) cannot be framed: the connection closes without the final chunk.
    func endResponse(number: Int, complete: Bool, trailers: HTTPHeaders? = nil, context: ChannelHandlerContext) {
        let action = self.machine.endResponse(number: number, complete: complete, now: .now())
        guard action != .drop else { return }
        self.stopKeepAlive()
        // The handler is done with the body, read or not: what still comes is dropped.
        self.bodySource?.finish()
        self.bodySource = nil
        self.finishCompletion(complete: complete)
        switch action {
        case .writeEnd:
            self.task = nil
            if !self.machine.isDiscarding { self.connectionGuard?.responseSent() }
            // The machine is idle before `.end` goes out: writing it may deliver the next
            // pipelined request at once.
            guard self.speaksHTTP1 else {
                context.writeAndFlush(self.wrapOutboundOut(.end(trailers)), promise: nil)
                break
            }
            self.endingResponses += 1
            context.write(self.wrapOutboundOut(.end(trailers)), promise: nil)
            self.flushPending = true
            self.endingResponses -= 1
            if self.endingResponses == 0 && !self.inReadBatch { self.flushIfPending(context: context) }
        case .writeEndAndClose:
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end(trailers))).whenComplete { _ in channel.close(promise: nil) }
        case .close, .drop:
            context.close(promise: nil)
        }
        self.afterEvent(context: context)
    }

    /// Tells whoever waits for the current response's end what was written.
    func finishCompletion(complete: Bool) {
        guard let completion = self.completion else { return }
        self.completion = nil
        let elapsed = NIODeadline.now() - self.requestStart
        completion.finish(
            ResponseSummary(
                bytes: self.responseBytes,
                duration: .nanoseconds(elapsed.nanoseconds),
                complete: complete,
                status: self.statusWritten
            )
        )
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        self.machine.writabilityChanged(writable: writable, now: .now())
        if writable {
            // Outside the access to `writers`: a resumed answer may deliver the next pipelined
            // request, whose answer may wait again.
            for waiter in self.writers.takeAll() { waiter.succeed() }
        }
        self.afterEvent(context: context)
        context.fireChannelWritabilityChanged()
    }

    /// Adds the headers every response carries: framing, `Date` and `Server`.
    func completeHeaders(_ headers: inout HTTPHeaders, status: HTTPResponseStatus, bodyLength: Int?) {
        if let bodyLength, status.code >= 200 && status != .noContent && status != .notModified {
            // `replaceOrAdd` would copy the fields to remove none, for the common response without one.
            if headers.contains(name: "content-length") {
                headers.replaceOrAdd(name: "content-length", value: String(bodyLength))
            } else {
                headers.add(name: "content-length", value: String(bodyLength))
            }
        }
        headers.add(name: "date", value: self.loop.dateCache.now)
        if let serverName = self.configuration.serverName, !headers.contains(name: "server") {
            headers.add(name: "server", value: serverName)
        }
    }

    // MARK: Deadlines

    private func syncTimer(context: ChannelHandlerContext) {
        guard let (at, _) = self.machine.nextDeadline else { return }  // an armed timer finds nothing to do
        guard !self.timer.fires(by: at) else { return }
        self.timer.fire(by: at, on: context.eventLoop) {
            self.timer.fired()
            self.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        switch self.machine.timerFired(now: .now()) {
        case .none:
            break
        case .reject(let status, let message, let retryAfter):
            self.server.logger.info("\(self.head.map { "\($0.method.rawValue) \($0.uri)" } ?? "a request"): \(message)")
            var response = HTTPServerResponse.rejection(status, message)
            if retryAfter { response.headers.replaceOrAdd(name: "retry-after", value: "1") }
            self.reject(response, version: self.head?.version ?? .http1_1, context: context)
            return
        case .close(let reason):
            self.server.logger.info("closing a connection from \(context.channel.remoteAddress?.description ?? "?"): \(reason)")
            self.bodySource?.finish(HTTPBodyError.timedOut)
            self.bodySource = nil
            self.task?.cancel()
            self.close(context: context)
            return
        }
        self.syncTimer(context: context)
    }

    func cancelTimer() {
        self.timer.cancel()
    }

    // MARK: Errors and the end of the connection

    /// Answers with an error and closes the connection: what follows on it cannot be trusted.
    func reject(_ response: HTTPServerResponse, version: HTTPVersion, context: ChannelHandlerContext) {
        self.machine.rejected()
        self.task?.cancel()
        self.bodySource?.finish(HTTPBodyError.connectionClosed)
        self.bodySource = nil
        self.stopKeepAlive()
        var headers = response.headers
        self.completeHeaders(&headers, status: response.status, bodyLength: response.body.knownLength)
        if !self.speaksHTTP1 { headers.remove(name: "connection") }
        self.statusWritten = response.status
        context.write(
            self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))),
            promise: nil
        )
        if case .buffer(let body) = response.body {
            self.responseBytes = body.readableBytes
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        self.finishCompletion(complete: true)
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            self.server.logger.debug("connection error: \(error)")
            return self.close(context: context)
        }
        let action = self.machine.parserError()
        if action != .none {
            // A malformed body: the responder's stream fails; no second response can be framed.
            self.bodySource?.finish(parserError)
            self.bodySource = nil
        }
        switch action {
        case .none:
            return
        case .close:
            return self.close(context: context)
        case .reject:
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
        switch event {
        case ChannelEvent.inputClosed:
            switch self.machine.inputClosed() {
            case .close:
                self.close(context: context)
            case .cancelRequest:
                self.task?.cancel()
                self.bodySource?.finish(HTTPBodyError.connectionClosed)
                self.bodySource = nil
            case .none:
                break
            }
        case let event as HTTPConnectionDrainEvent:
            self.quiesce(event.mode, context: context)
        case is ChannelShouldQuiesceEvent where !self.speaksHTTP1:
            self.quiesce(self.server.drainMode, context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func quiesce(_ mode: HTTPConnectionStateMachine.DrainMode, context: ChannelHandlerContext) {
        if self.machine.isUpgraded {
            // A WebSocket's own handler, before this one, hears the server's quiesce.
            return
        }
        switch self.machine.quiesce(mode) {
        case .close: self.close(context: context)
        case .none: break
        }
    }

    func close(context: ChannelHandlerContext) {
        self.machine.rejected()
        self.stopKeepAlive()
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.machine.channelInactive()
        self.cancelTimer()
        self.stopKeepAlive()
        self.task?.cancel()
        self.task = nil
        self.bodySource?.finish(HTTPBodyError.connectionClosed)
        self.bodySource = nil
        self.trailers?.fail(HTTPBodyError.connectionClosed)
        self.trailers = nil
        for waiter in self.writers.takeAll() { waiter.fail(HTTPBodyError.connectionClosed) }
        // A WebSocket session ends with its connection.
        self.finishCompletion(complete: self.machine.isUpgraded)
        context.fireChannelInactive()
    }
}

/// Sent through a connection's pipeline by `ConnectionGuardHandler` in place of NIO's
/// `ChannelShouldQuiesceEvent`, which `HTTPServerPipelineHandler` would act on itself by
/// closing an idle connection at once (losing a request the client is already sending).
struct HTTPConnectionDrainEvent: Sendable {
    let mode: HTTPConnectionStateMachine.DrainMode
}
