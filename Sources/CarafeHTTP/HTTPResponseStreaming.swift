import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Writing a response: in memory at once, a streamed body through a `ResponseBodyWriter` that
/// suspends while the socket is full, or the switch to WebSocket (`HTTPWebSocketUpgrade.swift`).
extension HTTPRequestHandler {
    /// Writes `response` for request `number`, streaming its body if it has a producer.
    static func send(
        _ response: HTTPServerResponse,
        number: Int,
        bound: NIOLoopBound<(HTTPRequestHandler, ChannelHandlerContext)>,
        logger: Logger
    ) async {
        let loop = bound.eventLoop
        switch response.body {
        case .buffer(let buffer):
            @Sendable func write() {
                let (handler, context) = bound.value
                guard let head = handler.startResponse(response, number: number, context: context) else { return }
                if buffer.readableBytes > 0 && head.method != .HEAD {
                    handler.responseBytes = buffer.readableBytes
                    context.write(handler.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                }
                handler.endResponse(number: number, complete: true, context: context)
            }
            loop.executeInline {
                let (handler, context) = bound.value
                // While the socket is full, the answer waits: writing it (and so letting NIO's
                // pipeline handler hand over the next pipelined request) would grow the send
                // queue without bound for a client that sends and never reads (#19). The write
                // timeout closes a connection that stays full.
                guard !context.channel.isWritable else { return write() }
                let ready = loop.makePromise(of: Void.self)
                handler.writers.wait(ready, writable: false)
                ready.futureResult.whenSuccess { write() }
            }
        case .stream(let length, let produce):
            let start: @Sendable () -> HTTPRequestHead? = {
                let (handler, context) = bound.value
                return handler.startResponse(response, number: number, context: context)
            }
            // The task is on the loop unless the responder left it for good.
            guard let head = loop.inEventLoop ? start() : try? await loop.submit(start).get() else { return }
            if head.method == .HEAD {
                return loop.executeInline { bound.value.0.endResponse(number: number, complete: true, context: bound.value.1) }
            }
            let writer = ChannelBodyWriter(bound: bound, number: number, length: length)
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
                let written = writer.bytesWritten.value
                let completed = complete
                loop.executeInline {
                    let (handler, context) = bound.value
                    handler.endResponse(
                        number: number,
                        complete: completed && (length == nil || length == written),
                        trailers: writer.trailers.fields.withLock { $0 },
                        context: context
                    )
                }
            }
        case .webSocket(let options, let run):
            await Self.runWebSocket(response, options: options, run: run, number: number, bound: bound)
        }
    }

    /// Runs `body` in a new task on the connection's loop, which becomes the one cancelled
    /// when the client goes away, if request `number` is still the current one; cancelled at
    /// once if the current task was.
    static func continueInNewTask(
        number: Int,
        bound: NIOLoopBound<(HTTPRequestHandler, ChannelHandlerContext)>,
        _ body: @escaping @Sendable () async -> Void
    ) {
        let cancelled = Task.isCancelled
        bound.eventLoop.executeInline {
            let handler = bound.value.0
            let drain = handler.server.drainSignal
            let task = Task.immediateDetached(executorPreference: handler.loop.executor) {
                await DrainSignal.$current.withValue(drain, operation: body)
            }
            if cancelled { task.cancel() }
            if handler.machine.isCurrent(number) || handler.machine.isUpgraded { handler.task = task }
        }
    }

    /// Writes one chunk of a streamed body; `promise` succeeds once the socket can take more.
    func writeChunk(_ chunk: ByteBuffer, number: Int, context: ChannelHandlerContext, promise: EventLoopPromise<Void>) {
        guard self.machine.isCurrent(number), context.channel.isActive else {
            return promise.fail(HTTPBodyError.connectionClosed)
        }
        self.responseBytes += chunk.readableBytes
        context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
        self.wroteSinceBeat = true
        self.writers.wait(promise, writable: context.channel.isWritable)
    }

    /// Starts the streamed response's heartbeat: `chunk` after every `interval` with no write.
    func keepAlive(every interval: TimeAmount, with chunk: ByteBuffer, number: Int, context: ChannelHandlerContext) {
        guard self.machine.isCurrent(number) else { return }
        self.keepAliveTimer?.cancel()
        self.keepAliveBeat = (interval, chunk)
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

    func stopKeepAlive() {
        self.keepAliveTimer?.cancel()
        self.keepAliveTimer = nil
    }
}

/// Writes a streamed response's chunks to the connection, suspending while it is full.
struct ChannelBodyWriter: ResponseBodyWriter {
    let bound: NIOLoopBound<(HTTPRequestHandler, ChannelHandlerContext)>
    let number: Int
    let length: Int?
    let bytesWritten = ByteCounter()
    /// `writeTrailers`' fields, sent with the body's end.
    let trailers = TrailerSlot()

    func writeTrailers(_ trailers: HTTPHeaders) async throws {
        try ResponseTrailersError.check(trailers)
        self.trailers.fields.withLock { $0 = trailers }
    }

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

    func detach() async -> DetachedStream? {
        guard self.length == nil else { return nil }
        let detach: @Sendable () -> EventLoopFuture<DetachedStream?> = { [bound, number] in
            let (handler, context) = bound.value
            return handler.detachStream(number: number, context: context)
        }
        let loop = self.bound.eventLoop
        return try? await (loop.inEventLoop ? detach() : loop.flatSubmit(detach)).get()
    }
}

/// The trailers a streamed response's producer set, for the body's end.
final class TrailerSlot: Sendable {
    let fields = Mutex<HTTPHeaders?>(nil)
}

/// Counts the bytes a streamed response has written.
final class ByteCounter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { self.count.load(ordering: .relaxed) }
    func add(_ bytes: Int) { self.count.add(bytes, ordering: .relaxed) }
}
