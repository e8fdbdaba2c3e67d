import NIOCore
import NIOHTTP1

/// The hand-over of a streamed response to a `DetachedStream` (`ResponseBodyWriter.detach()`):
/// the HTTP handlers leave the pipeline, as for a WebSocket, and a `DetachedStreamHandler`
/// takes their place. The connection carries no further request.
extension HTTPRequestHandler {
    func detachStream(number: Int, context: ChannelHandlerContext) -> EventLoopFuture<DetachedStream?> {
        guard self.speaksHTTP1, let head = self.head, context.channel.isActive else {
            return context.eventLoop.makeSucceededFuture(nil)
        }
        let switching = self.machine.detachingStream(number: number)
        guard switching != .drop else { return context.eventLoop.makeSucceededFuture(nil) }
        let detached = context.eventLoop.makePromise(of: DetachedStream?.self)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let chunked = head.version.major == 1 && head.version.minor >= 1
        let replace: @Sendable () -> Void = {
            let (handler, context) = bound.value
            do {
                detached.succeed(try handler.replaceWithDetachedStream(chunked: chunked, context: context))
            } catch {
                handler.server.logger.error("could not detach a streamed response: \(error)")
                context.close(promise: nil)
                detached.succeed(nil)
            }
        }
        if switching == .afterEnd {
            // Called from within the parser's delivery of `.end`: the handlers leave after it.
            self.afterRequestEnd = { context.eventLoop.execute(replace) }
        } else {
            replace()
        }
        return detached.futureResult
    }

    private func replaceWithDetachedStream(chunked: Bool, context: ChannelHandlerContext) throws -> DetachedStream {
        self.stopKeepAlive()
        self.cancelTimer()
        let stream = self.handOver(to: context.channel, chunked: chunked, heartbeat: self.keepAliveBeat)
        self.writers.failAll(HTTPBodyError.connectionClosed)
        let pipeline = context.pipeline.syncOperations
        try pipeline.addHandler(DetachedStreamHandler(stream: stream), position: .last)
        pipeline.removeHandler(context: context, promise: nil)
        try self.removeHTTPHandlers(from: pipeline)
        if self.server.isDraining { stream.finish() }
        // A `read()` the request handler's gate held back died with it: ask again, so that the
        // client's leaving (its FIN) is seen.
        let channel = context.channel
        context.eventLoop.execute { channel.read() }
        return stream
    }
}

extension HTTPRequestHandler {
    /// A `DetachedStream` on `channel` that takes over what waits for the response's end (the
    /// completion: the access log, the metrics) with the start and the bytes written so far;
    /// this handler lets go of the request's task and head. For a detached event stream and a
    /// WebSocket session handed to a hub alike.
    func handOver(to channel: any Channel, chunked: Bool, heartbeat: (interval: TimeAmount, chunk: ByteBuffer)?) -> DetachedStream {
        let stream = DetachedStream(
            channel: channel,
            isChunked: chunked,
            heartbeat: heartbeat,
            writeTimeout: self.configuration.writeTimeout,
            heartbeats: self.loop.heartbeats,
            completion: self.completion,
            started: self.requestStart,
            bytesWritten: self.responseBytes,
            status: self.statusWritten
        )
        self.completion = nil
        self.task = nil
        self.head = nil
        return stream
    }

    /// Removes the HTTP/1 handlers before this one (the connection guard, the header validator,
    /// the pipeline handler, the response encoder and the request decoder): the connection
    /// leaves HTTP, for a WebSocket or a detached stream.
    func removeHTTPHandlers(from pipeline: ChannelPipeline.SynchronousOperations) throws {
        if let connectionGuard = self.connectionGuard { pipeline.removeHandler(connectionGuard, promise: nil) }
        pipeline.removeHandler(context: try pipeline.context(handlerType: NIOHTTPResponseHeadersValidator.self), promise: nil)
        pipeline.removeHandler(context: try pipeline.context(handlerType: HTTPServerPipelineHandler.self), promise: nil)
        pipeline.removeHandler(context: try pipeline.context(handlerType: HTTPResponseEncoder.self), promise: nil)
        pipeline.removeHandler(context: try pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
    }
}

/// The request handler leaves the pipeline when its stream is detached.
extension HTTPRequestHandler: RemovableChannelHandler {}
