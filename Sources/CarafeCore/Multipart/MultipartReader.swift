import CarafeHTTP

/// Reads a `multipart/form-data` body part by part as it arrives, for routes that handle each
/// part's bytes themselves (hash them, send them on) instead of having them collected:
///
///     app.post("/import", body: .stream) { req in
///         let reader = try req.multipartReader()
///         while let part = try await reader.nextPart() {
///             while let chunk = try await reader.nextChunk() { hasher.update(chunk) }
///         }
///     }
///
/// or as nested sequences:
///
///     for try await part in try req.multipartParts() {
///         for try await chunk in part.body { ... }
///     }
///
/// The client is read only as fast as the parts are consumed (the body's backpressure), and
/// nothing is kept but the few bytes that may start a delimiter. A part whose body is not read
/// is skipped by the next `nextPart()`. The limits (`MultipartLimits`) apply, except the field
/// size, which is for collected forms: an error is a `MultipartError` (400, 413, 415).
///
/// A reader belongs to the task that handles the request: do not share it.
public final class MultipartReader: @unchecked Sendable {
    private var body: RequestBody.AsyncIterator
    private var parser: MultipartParser
    private let maxTotalSize: Int?
    private var events: [MultipartParser.Event] = []
    private var nextEvent = 0
    private var received = 0
    private var ended = false
    /// Inside a part whose `.partEnd` has not been read yet.
    private var inPart = false

    /// A reader of `body` whose `Content-Type` is `contentType`.
    public init(body: RequestBody, contentType: String?, limits: MultipartLimits = MultipartLimits()) throws {
        self.parser = try MultipartParser(contentType: contentType, limits: limits)
        self.body = body.makeAsyncIterator()
        self.maxTotalSize = limits.maxTotalSize
    }

    /// The next part's head, or nil after the last part; the rest of the current part is skipped.
    public func nextPart() async throws -> MultipartPartHead? {
        while let event = try await self.next() {
            if case .part(let head) = event {
                self.inPart = true
                return head
            }
        }
        return nil
    }

    /// The current part's next bytes, or nil at its end.
    public func nextChunk() async throws -> ByteBuffer? {
        guard self.inPart else { return nil }
        while let event = try await self.next() {
            switch event {
            case .body(let bytes): return bytes
            case .partEnd:
                self.inPart = false
                return nil
            case .part: preconditionFailure("a part began before the previous one ended")
            }
        }
        return nil
    }

    private func next() async throws -> MultipartParser.Event? {
        while self.nextEvent == self.events.count {
            guard !self.ended else { return nil }
            self.events.removeAll(keepingCapacity: true)
            self.nextEvent = 0
            guard let chunk = try await self.body.next() else {
                self.ended = true
                try self.parser.finish()
                return nil
            }
            self.received += chunk.readableBytes
            if let limit = self.maxTotalSize, self.received > limit { throw MultipartError.bodyTooLarge(limit: limit) }
            self.events = try self.parser.feed(chunk)
        }
        defer { self.nextEvent += 1 }
        return self.events[self.nextEvent]
    }
}

/// The parts of a multipart body as an `AsyncSequence` (see `MultipartReader`).
public struct MultipartParts: AsyncSequence, Sendable {
    public typealias Element = MultipartPart
    let reader: MultipartReader

    public struct AsyncIterator: AsyncIteratorProtocol {
        let reader: MultipartReader
        public mutating func next() async throws -> MultipartPart? {
            try await self.reader.nextPart().map { MultipartPart(head: $0, body: MultipartPartBody(reader: self.reader)) }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: self.reader) }
}

/// One part of a streamed multipart body: its head, and its bytes as they arrive.
public struct MultipartPart: Sendable {
    public let head: MultipartPartHead
    /// The part's bytes; read them before asking for the next part (which skips what is left).
    public let body: MultipartPartBody

    public var name: String { self.head.name }
    public var filename: String? { self.head.filename }
    public var contentType: String? { self.head.contentType }
}

/// The bytes of one part, as an `AsyncSequence` of chunks.
public struct MultipartPartBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let reader: MultipartReader

    public struct AsyncIterator: AsyncIteratorProtocol {
        let reader: MultipartReader
        public mutating func next() async throws -> ByteBuffer? { try await self.reader.nextChunk() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: self.reader) }
}
