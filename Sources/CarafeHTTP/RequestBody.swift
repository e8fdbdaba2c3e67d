import NIOCore
import Synchronization

/// A request body: the chunks the client sends, as they arrive, with backpressure.
///
///     for try await chunk in request.body { try await file.write(chunk) }   // streamed, flat memory
///     let whole = try await request.body.collect(upTo: 1 << 20)             // or collected
///
/// While the consumer does not ask for more, the server stops reading the socket, so a fast
/// client cannot make it buffer more than a few chunks. A streamed body can be iterated once.
/// If the client goes away mid-body, iteration throws `HTTPBodyError.connectionClosed`.
public struct RequestBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    typealias Producer = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, ConnectionReadDelegate
    >

    private enum Storage: Sendable {
        case buffer(ByteBuffer)
        case stream(Producer, expectContinue: (@Sendable () -> Void)?, iterated: IterationFlag)
        case sequence(@Sendable () -> Iterator)
    }

    /// Set by the first iterator of a streamed body: a second one gets `alreadyConsumed`.
    final class IterationFlag: Sendable {
        private let taken = Atomic<Bool>(false)
        func take() -> Bool { !self.taken.exchange(true, ordering: .relaxed) }
        var isTaken: Bool { self.taken.load(ordering: .relaxed) }
    }

    private let storage: Storage

    /// A body already in memory (the test client, or a request without a body).
    public init(_ buffer: ByteBuffer = ByteBuffer()) {
        self.storage = .buffer(buffer)
    }

    /// A body streamed from a connection; `expectContinue` runs when it is first read.
    init(_ producer: Producer, expectContinue: (@Sendable () -> Void)?) {
        self.storage = .stream(producer, expectContinue: expectContinue, iterated: IterationFlag())
    }

    /// A body made of another sequence's chunks: a body transformed on its way to the handler
    /// (decompressed, say). Iterate it once, as a streamed body.
    public init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == ByteBuffer {
        self.storage = .sequence {
            let box = IteratorBox(sequence.makeAsyncIterator())
            return Iterator(next: { try await box.next() })
        }
    }

    /// Holds another sequence's iterator for `Iterator`, which only one task uses.
    private final class IteratorBox<I: AsyncIteratorProtocol>: @unchecked Sendable where I.Element == ByteBuffer {
        var iterator: I
        init(_ iterator: I) { self.iterator = iterator }
        func next() async throws -> ByteBuffer? { try await self.iterator.next() }
    }

    /// Whether this is a body streamed from a connection that nobody has started to read: its
    /// end (and trailers) will not come until someone does.
    package var isUnreadStream: Bool {
        if case .stream(_, _, let iterated) = self.storage { return !iterated.isTaken }
        return false
    }

    /// The whole body, if it is at most `limit` bytes; else `HTTPBodyError.tooLarge`.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        if case .buffer(let buffer) = self.storage {
            guard buffer.readableBytes <= limit else { throw HTTPBodyError.tooLarge(limit: limit) }
            return buffer
        }
        var collected = ByteBuffer()
        for try await var chunk in self {
            guard collected.readableBytes + chunk.readableBytes <= limit else { throw HTTPBodyError.tooLarge(limit: limit) }
            collected.writeBuffer(&chunk)
        }
        return collected
    }

    public func makeAsyncIterator() -> Iterator {
        switch self.storage {
        case .buffer(let buffer):
            Iterator(buffer: buffer.readableBytes > 0 ? buffer : nil)
        case .stream(let producer, let expectContinue, let iterated):
            iterated.take()
                ? Iterator(stream: producer.makeAsyncIterator(), expectContinue: expectContinue) : Iterator(failure: .alreadyConsumed)
        case .sequence(let make):
            make()
        }
    }

    public struct Iterator: AsyncIteratorProtocol {
        private var buffer: ByteBuffer?
        private var stream: Producer.AsyncIterator?
        private var expectContinue: (@Sendable () -> Void)?
        private var failure: HTTPBodyError?
        private var nextChunk: (() async throws -> ByteBuffer?)?

        init(next: @escaping () async throws -> ByteBuffer?) {
            self.nextChunk = next
        }

        init(buffer: ByteBuffer?) {
            self.buffer = buffer
        }

        init(failure: HTTPBodyError) {
            self.failure = failure
        }

        init(stream: Producer.AsyncIterator, expectContinue: (@Sendable () -> Void)?) {
            self.stream = stream
            self.expectContinue = expectContinue
        }

        public mutating func next() async throws -> ByteBuffer? {
            if let failure = self.failure { throw failure }
            if let nextChunk = self.nextChunk { return try await nextChunk() }
            if let buffer = self.buffer {
                self.buffer = nil
                return buffer
            }
            if let expectContinue = self.expectContinue {
                self.expectContinue = nil
                expectContinue()
            }
            return try await self.stream?.next()
        }
    }
}

/// Why a body could not be read or written.
public enum HTTPBodyError: Error, Equatable, CustomStringConvertible {
    /// The body is larger than the limit the reader set.
    case tooLarge(limit: Int)
    /// The client closed the connection.
    case connectionClosed
    /// A streamed body was iterated a second time; it can be read once.
    case alreadyConsumed
    /// The client sent the body too slowly (the body timeout or minimum rate).
    case timedOut

    public var description: String {
        switch self {
        case .tooLarge(let limit): "Request body is larger than the limit of \(limit) bytes."
        case .connectionClosed: "The client closed the connection."
        case .alreadyConsumed: "The request body was already read; a streamed body can be read once."
        case .timedOut: "The request body arrived too slowly (the body timeout)."
        }
    }
}

/// Tells a connection when the consumer of what it reads (a request body, WebSocket messages)
/// wants more (resume reading the socket) or has gone (stop buffering). Called on any thread;
/// hops to the connection's loop.
struct ConnectionReadDelegate: NIOAsyncSequenceProducerDelegate {
    let eventLoop: any EventLoop
    let produceMoreOnLoop: @Sendable () -> Void
    let terminatedOnLoop: @Sendable () -> Void

    func produceMore() {
        self.eventLoop.executeInline(self.produceMoreOnLoop)
    }

    func didTerminate() {
        self.eventLoop.executeInline(self.terminatedOnLoop)
    }
}
