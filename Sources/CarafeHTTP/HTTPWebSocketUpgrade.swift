import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// The switch from HTTP to WebSocket, for a response whose body is `.webSocket`: by `101` on
/// an HTTP/1.1 connection, by `200` to an extended CONNECT on an HTTP/2 stream.
extension HTTPRequestHandler {
    static func runWebSocket(
        _ response: HTTPServerResponse,
        options: WebSocketOptions,
        run: @escaping @Sendable (WebSocket) async throws -> Void,
        number: Int,
        bound: NIOLoopBound<(HTTPRequestHandler, ChannelHandlerContext)>
    ) async {
        let loop = bound.eventLoop
        let logger = bound.value.0.server.logger
        let upgrade: @Sendable () -> EventLoopFuture<WebSocket?> = {
            let (handler, context) = bound.value
            return handler.upgrade(response.headers, options: options, number: number, context: context)
        }
        guard let socket = try? await (loop.inEventLoop ? upgrade() : loop.flatSubmit(upgrade)).get() else { return }
        // Like a streamed body, the connection may last for hours: a task of its own.
        Self.continueInNewTask(number: number, bound: bound) {
            do {
                try await run(socket)
                // A session handed to a hub (`WebSocket.detach`) goes on without its task.
                if !socket.isDetached { socket.close(.normalClosure) }
            } catch {
                logger.debug("WebSocket handler failed: \(error)")
                socket.close(.unexpectedServerError)
            }
        }
    }

    /// Answers `101 Switching Protocols` and turns the connection into a WebSocket: NIO's frame
    /// decoder and encoder and a `WebSocketHandler` take the place of the HTTP handlers, once
    /// the parser has delivered the request's end. The client sends no frame before it reads the
    /// `101`, so nothing is left in the parser. An invalid opening request is answered with 400
    /// and a close; nil then.
    func upgrade(
        _ extraHeaders: HTTPHeaders,
        options: WebSocketOptions,
        number: Int,
        context: ChannelHandlerContext
    ) -> EventLoopFuture<WebSocket?> {
        guard self.machine.isCurrent(number), let head = self.head, context.channel.isActive else {
            return context.eventLoop.makeSucceededFuture(nil)
        }
        guard self.speaksHTTP1 else {
            return context.eventLoop.makeSucceededFuture(
                self.openTunnel(head, extraHeaders, options: options, number: number, context: context)
            )
        }
        return WebSocketHandshake.acceptHeaders(for: head, extra: extraHeaders, channel: context.channel)
            .assumeIsolated()
            .flatMap { headers -> EventLoopFuture<WebSocket?> in
                let switching = self.machine.switchingProtocols(number: number)
                guard switching != .drop else { return context.eventLoop.makeSucceededFuture(nil) }
                var headers = headers
                self.completeHeaders(&headers, status: .switchingProtocols, bodyLength: nil)
                self.statusWritten = .switchingProtocols
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
                if switching == .afterEnd { self.afterRequestEnd = replace } else { replace() }
                return switched.futureResult
            }
            .recover { _ in
                self.reject(.rejection(.badRequest, "Not a valid WebSocket opening request."), version: head.version, context: context)
                return nil
            }
            .nonisolated()
    }

    /// An HTTP/2 stream's WebSocket (RFC 8441): the extended CONNECT is answered with `200`
    /// (no `Sec-WebSocket-Accept`: there is no key) and its stream becomes a tunnel of bytes
    /// (`HTTPConnectionHTTP2.openTunnel`), on which the frame decoder and a `WebSocketHandler`
    /// run as on an HTTP/1 connection. A stream that asks for anything else is answered 400.
    private func openTunnel(
        _ head: HTTPRequestHead,
        _ extraHeaders: HTTPHeaders,
        options: WebSocketOptions,
        number: Int,
        context: ChannelHandlerContext
    ) -> WebSocket? {
        guard let http2 = self.configuration.http2, WebSocketHandshake.isExtendedConnect(head) else {
            self.reject(.rejection(.badRequest, "Not a valid WebSocket opening request."), version: head.version, context: context)
            return nil
        }
        guard self.machine.openingTunnel(number: number) else { return nil }
        var headers = extraHeaders
        self.completeHeaders(&headers, status: .ok, bodyLength: nil)
        headers.remove(name: "connection")
        self.statusWritten = .ok
        context.writeAndFlush(
            self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))),
            promise: nil
        )
        do {
            try http2.openTunnel(on: context.channel)
            return try self.replaceHTTPHandlers(options: options, context: context)
        } catch {
            self.server.logger.error("could not turn an HTTP/2 stream into a WebSocket: \(error)")
            context.close(promise: nil)
            return nil
        }
    }

    /// The WebSocket's session is handed to a `DetachedStream` (`WebSocketHandler.detach`):
    /// this handler, kept last only to cancel the session's task, leaves the pipeline, and what
    /// waits for the session's end (the response's completion: the access log, the metrics)
    /// waits for the stream's end instead.
    func leaveForDetachedWebSocket(channel: any Channel) -> DetachedStream {
        let stream = self.handOver(to: channel, chunked: false, heartbeat: nil)
        channel.pipeline.syncOperations.removeHandler(self, promise: nil)
        return stream
    }

    private func replaceHTTPHandlers(options: WebSocketOptions, context: ChannelHandlerContext) throws -> WebSocket {
        let webSocket = WebSocketHandler(options: options, heartbeats: self.loop.heartbeats)
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
            [ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: options.maxMessageSize)), webSocket],
            position: .before(self)
        )
        // This handler stays, last, only to cancel the task when the connection closes. (An
        // HTTP/2 stream's codec has left already, for the tunnel.)
        if self.speaksHTTP1 { try self.removeHTTPHandlers(from: pipeline) }
        return WebSocket(messages: WebSocketMessages(messages.sequence), handler: bound, peerClose: webSocket.peerClose)
    }
}
