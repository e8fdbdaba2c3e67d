import Logging
import NIOCore
import NIOHTTP1

/// Turns a connection's request parts into complete requests for an `HTTPResponder`, and
/// writes its responses back in order.
///
/// It enforces the limits of `HTTPServerConfiguration` (414, 431, 413, each followed by a
/// close), answers `Expect: 100-continue`, answers parser errors with 400 and a close, runs
/// each request as a task on the connection's event loop, and cancels that task when the
/// client goes away. NIO's `HTTPServerPipelineHandler` before it holds back pipelined
/// requests until the previous response is written, so at most one request is in flight.
final class HTTPRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Waiting for a request head.
        case idle
        /// Collecting the body of `head`.
        case collecting(HTTPRequestHead, ByteBuffer)
        /// The responder is working on `head`.
        case responding(HTTPRequestHead)
        /// An error response went out and the connection is closing: ignore everything.
        case closing
    }

    private let configuration: HTTPServerConfiguration
    private let responder: any HTTPResponder
    private let loop: EventLoopResources
    private let server: HTTPServer.SharedState
    private var state = State.idle
    /// The task answering the current request, to cancel if the client goes away.
    private var task: Task<Void, Never>?
    /// Requests dispatched on this connection so far.
    private var requestCount = 0
    /// The client half-closed its side: close once the current response is out.
    private var closeAfterResponse = false

    init(
        configuration: HTTPServerConfiguration,
        responder: any HTTPResponder,
        loop: EventLoopResources,
        server: HTTPServer.SharedState
    ) {
        self.configuration = configuration
        self.responder = responder
        self.loop = loop
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (self.unwrapInboundIn(data), self.state) {
        case (.head(let head), .idle):
            context.triggerUserOutboundEvent(ConnectionTimeoutHandler.RequestLifecycle.headReceived, promise: nil)
            self.receive(head, context: context)
        case (.body(let chunk), .collecting(let head, var body)):
            guard body.readableBytes + chunk.readableBytes <= self.configuration.maxBodySize else {
                return self.reject(.bodyTooLarge(limit: self.configuration.maxBodySize), version: head.version, context: context)
            }
            self.state = .idle  // let `body` be uniquely referenced while it grows
            var chunk = chunk
            body.writeBuffer(&chunk)
            self.state = .collecting(head, body)
        case (.end, .collecting(let head, let body)):
            self.dispatch(HTTPServerRequest(head: head, body: body, remoteAddress: context.channel.remoteAddress), context: context)
        case (_, .closing):
            break
        default:
            // NIO's pipeline handler and decoder never deliver parts out of order.
            self.server.logger.error("unexpected request part in state \(self.state); closing the connection")
            self.state = .closing
            context.close(promise: nil)
        }
    }

    private func receive(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        if let (status, message) = self.violatedLimit(head) {
            return self.reject(.rejection(status, message), version: head.version, context: context)
        }
        let declaredLength = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
        if declaredLength > self.configuration.maxBodySize {
            return self.reject(.bodyTooLarge(limit: self.configuration.maxBodySize), version: head.version, context: context)
        }
        if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
            context.writeAndFlush(
                self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))),
                promise: nil
            )
        }
        self.state = .collecting(head, context.channel.allocator.buffer(capacity: declaredLength))
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

    private func dispatch(_ request: HTTPServerRequest, context: ChannelHandlerContext) {
        self.state = .responding(request.head)
        self.requestCount &+= 1
        let number = self.requestCount
        let responder = self.responder
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        // The task starts at once on this thread and runs until its first suspension; a handler
        // that never suspends is answered without any job being scheduled. After a suspension
        // it resumes on this loop, its executor.
        let task = Task.immediateDetached(executorPreference: self.loop.executor) {
            let response = await responder.respond(to: request)
            bound.eventLoop.executeInline {
                let (handler, context) = bound.value
                handler.write(response, context: context)
            }
        }
        // Unless it has already answered (and maybe started the next pipelined request).
        if number == self.requestCount, case .responding = self.state {
            self.task = task
        }
    }

    private func write(_ response: HTTPServerResponse, context: ChannelHandlerContext) {
        guard case .responding(let request) = self.state else { return }  // the connection was closed meanwhile
        self.task = nil
        var headers = response.headers
        let close =
            !request.isKeepAlive || self.closeAfterResponse || self.server.isDraining
            || headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
        self.completeHeaders(&headers, status: response.status, bodyLength: response.body.readableBytes)
        if close {
            headers.replaceOrAdd(name: "connection", value: "close")
        } else if request.version.minor == 0 {
            headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))), promise: nil)
        if response.body.readableBytes > 0 {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        if close {
            self.state = .closing
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        } else {
            // Become idle before `.end`: writing it may deliver the next pipelined request at once.
            self.state = .idle
            context.triggerUserOutboundEvent(ConnectionTimeoutHandler.RequestLifecycle.responseSent, promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// Adds the headers every response carries: framing, `Date` and `Server`.
    private func completeHeaders(_ headers: inout HTTPHeaders, status: HTTPResponseStatus, bodyLength: Int) {
        if status.code >= 200 && status != .noContent && status != .notModified {
            headers.replaceOrAdd(name: "content-length", value: String(bodyLength))
        }
        headers.add(name: "date", value: self.loop.dateCache.now)
        if let serverName = self.configuration.serverName, !headers.contains(name: "server") {
            headers.add(name: "server", value: serverName)
        }
    }

    /// Answers with an error and closes the connection: what follows on it cannot be trusted.
    private func reject(_ response: HTTPServerResponse, version: HTTPVersion, context: ChannelHandlerContext) {
        self.state = .closing
        self.task?.cancel()
        var headers = response.headers
        self.completeHeaders(&headers, status: response.status, bodyLength: response.body.readableBytes)
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            self.server.logger.debug("connection error: \(error)")
            self.state = .closing
            context.close(promise: nil)
            return
        }
        if case .closing = self.state { return }
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
            // The client sent all it will send. Finish the response in hand, if any, then close.
            if case .responding = self.state {
                self.closeAfterResponse = true
            } else {
                self.state = .closing
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state = .closing
        self.task?.cancel()
        self.task = nil
        context.fireChannelInactive()
    }
}
