import NIOCore
import NIOHTTP1

/// A streamed response that no longer needs its request: its connection has left HTTP (the
/// request decoder, the response encoder and the request handler are gone from the pipeline),
/// no task runs for it, and whoever holds it (a `BroadcastHub`) writes ready-made bytes to it
/// on its event loop. What an idle event stream costs is then the socket, this record and a
/// place on its loop's heartbeat wheel.
///
/// Get one from `ResponseBodyWriter.detach()` once the response head is out. Each `write` goes
/// out with its own flush; while the client reads slowly, messages wait in a bounded queue
/// (`SlowConsumerQueue`: at most `queueLimit`, then `policy`). The heartbeat the body asked for
/// (`keepAlive`) carries on, from the loop's one timer. The stream ends (and the connection
/// closes: it is not reused) when `finish()` is called, the client goes away, the socket stays
/// full for the write timeout, or the server drains; then the `onEnd` callbacks run, on the loop.
///
/// All methods must be called on `eventLoop`.
public final class DetachedStream: HeartbeatMember, @unchecked Sendable {
    public typealias Policy = SlowConsumerPolicy

    /// The connection's loop (read from the channel: one existential fewer in every idle stream).
    public var eventLoop: any EventLoop { self.channel.eventLoop }
    /// The body goes out with chunked transfer coding (HTTP/1.1): every write must be whole
    /// chunks (`DetachedStream.chunk(_:)`). False for HTTP/1.0, whose body ends with the connection.
    public let isChunked: Bool
    let channel: any Channel
    let id: Int
    private let heartbeats: LoopHeartbeats
    private let heartbeat: ByteBuffer?
    private let writeTimeout: TimeAmount?
    private var queue: SlowConsumerQueue<ByteBuffer>
    private var unwritableSince: NIODeadline?
    /// What runs when the stream ends: the first apart (the hub's, usually the only one), so an
    /// idle stream holds no array for it.
    private var firstEndCallback: (() -> Void)?
    private var endCallbacks: [() -> Void] = []
    private let completion: ResponseCompletion?
    private let started: NIODeadline
    private(set) var bytesWritten: Int
    /// The response head's status, for the summary (a code: this record stays small).
    private let statusCode: UInt16
    public private(set) var isEnded = false

    init(
        channel: any Channel,
        isChunked: Bool,
        heartbeat: (interval: TimeAmount, chunk: ByteBuffer)?,
        writeTimeout: TimeAmount?,
        heartbeats: LoopHeartbeats,
        completion: ResponseCompletion?,
        started: NIODeadline,
        bytesWritten: Int,
        status: HTTPResponseStatus? = nil
    ) {
        self.channel = channel
        self.isChunked = isChunked
        self.heartbeats = heartbeats
        self.id = heartbeats.nextID()
        self.heartbeat = heartbeat.map { isChunked ? heartbeats.chunk(ofBeat: $0.chunk) : $0.chunk }
        self.writeTimeout = writeTimeout
        self.queue = SlowConsumerQueue(limit: 256, policy: .dropOldest)
        self.completion = completion
        self.started = started
        self.bytesWritten = bytesWritten
        self.statusCode = UInt16(status?.code ?? 0)
        heartbeats.add(self, every: heartbeat?.interval)
    }

    /// How many messages may wait while the client reads slowly, and what happens past that.
    public func limitQueue(to limit: Int, policy: Policy) {
        self.queue = SlowConsumerQueue(limit: limit, policy: policy)
    }

    /// Messages dropped so far because the client read too slowly (`.dropOldest`).
    public var droppedMessages: Int { self.queue.dropped }

    /// Runs `body` when the stream ends (at once if it has).
    public func onEnd(_ body: @escaping () -> Void) {
        if self.isEnded { return body() }
        if self.firstEndCallback == nil { self.firstEndCallback = body } else { self.endCallbacks.append(body) }
    }

    /// Sends `bytes` (whole chunks if `isChunked`), flushed at once, or queued while the client
    /// reads slowly.
    public func write(_ bytes: ByteBuffer) {
        guard !self.isEnded else { return }
        switch self.queue.offer(bytes, writable: self.channel.isWritable) {
        case .write(let bytes):
            self.send(bytes)
        case .queued, .droppedOldest:
            self.noteUnwritable()
        case .close:
            self.end(closing: true, complete: false)
        }
    }

    /// Ends the body properly (the last chunk) and closes the connection.
    public func finish() {
        guard !self.isEnded else { return }
        if self.isChunked {
            for message in self.queue.drain() { self.channel.write(message, promise: nil) }
            let channel = self.channel
            channel.writeAndFlush(Self.lastChunk).whenComplete { _ in channel.close(promise: nil) }
            self.end(closing: false, complete: true)
        } else {
            self.end(closing: true, complete: true)
        }
    }

    /// `bytes` as one chunk of chunked transfer coding.
    public static func chunk(_ bytes: ByteBuffer) -> ByteBuffer {
        var chunk = ByteBuffer()
        let size = String(bytes.readableBytes, radix: 16)
        chunk.reserveCapacity(size.utf8.count + bytes.readableBytes + 4)
        chunk.writeString(size)
        chunk.writeStaticString("\r\n")
        chunk.writeImmutableBuffer(bytes)
        chunk.writeStaticString("\r\n")
        return chunk
    }

    static let lastChunk = ByteBuffer(string: "0\r\n\r\n")

    private func send(_ bytes: ByteBuffer) {
        self.bytesWritten += bytes.readableBytes
        self.heartbeats.touched(self)
        self.channel.writeAndFlush(bytes, promise: nil)
    }

    private func noteUnwritable() {
        if self.unwritableSince == nil { self.unwritableSince = self.eventLoop.now }
    }

    // MARK: Told by the connection and the loop's heartbeat

    func writabilityChanged() {
        guard !self.isEnded, self.channel.isWritable else { return }
        self.unwritableSince = nil
        let waiting = self.queue.drain()
        guard !waiting.isEmpty else { return }
        for message in waiting {
            self.bytesWritten += message.readableBytes
            self.channel.write(message, promise: nil)
        }
        self.heartbeats.touched(self)
        self.channel.flush()
    }

    var heartbeatID: Int { self.id }

    /// The heartbeat is due: a beat if the socket takes it; a socket full for longer than the
    /// write timeout closes the stream.
    func beat(now: NIODeadline) {
        guard !self.isEnded else { return }
        if !self.channel.isWritable {
            self.noteUnwritable()
            if let since = self.unwritableSince, let limit = self.writeTimeout, now - since >= limit {
                self.end(closing: true, complete: false)
            }
            return
        }
        if let heartbeat = self.heartbeat {
            self.bytesWritten += heartbeat.readableBytes
            self.channel.writeAndFlush(heartbeat, promise: nil)
        }
    }

    /// The connection closed, or is to close.
    func end(closing: Bool, complete: Bool) {
        guard !self.isEnded else { return }
        self.isEnded = true
        self.heartbeats.remove(self)
        _ = self.queue.drain()
        if closing { self.channel.close(promise: nil) }
        if let completion = self.completion {
            let elapsed = NIODeadline.now() - self.started
            completion.finish(
                ResponseSummary(
                    bytes: self.bytesWritten,
                    duration: .nanoseconds(elapsed.nanoseconds),
                    complete: complete,
                    status: self.statusCode == 0 ? nil : HTTPResponseStatus(statusCode: Int(self.statusCode))
                )
            )
        }
        let first = self.firstEndCallback
        let callbacks = self.endCallbacks
        self.firstEndCallback = nil
        self.endCallbacks = []
        first?()
        callbacks.forEach { $0() }
    }
}

/// The last handler of a detached stream's connection: what the client sends is dropped (an
/// event stream's client has nothing to say); its going away, a drain and the socket draining
/// are passed to the stream.
final class DetachedStreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let stream: DetachedStream

    init(stream: DetachedStream) {
        self.stream = stream
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Dropped: bytes after the request (or its pipelined successors) have no one to answer them.
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.stream.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.stream.end(closing: false, complete: false)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent, is HTTPConnectionDrainEvent:
            // The server drains: the stream ends properly; `EventSource` reconnects elsewhere.
            self.stream.finish()
        case ChannelEvent.inputClosed:
            // The client closed its side: it reads no more of the stream.
            self.stream.end(closing: true, complete: false)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.stream.end(closing: true, complete: false)
    }
}
