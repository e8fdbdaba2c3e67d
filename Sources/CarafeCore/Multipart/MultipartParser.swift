import CarafeHTTP

/// A streaming `multipart/form-data` parser (RFC 7578, RFC 2046 §5.1): bytes in, events out,
/// with no I/O and no clock, so that every case is unit-tested without sockets.
///
///     var parser = try MultipartParser(contentType: "multipart/form-data; boundary=XyZ")
///     for event in try parser.feed(chunk) { ... }   // as each chunk arrives
///     try parser.finish()                           // at the body's end
///
/// Body bytes are handed out as soon as they cannot be the start of a delimiter, as slices of
/// the chunks fed (no copy): at most the delimiter's length is held back between chunks, so a
/// part of any size passes in constant memory. The limits it enforces are those that protect
/// the parser itself: the number of parts and the size of each part's headers. Sizes of fields
/// and of the whole body are the consumer's (`MultipartReader`, `MultipartForm`).
///
/// vapor/multipart-kit's `MultipartParser` was considered: it keeps a header line of any length
/// in memory, does not tell a truncated body from a complete one, and calls back once per CR
/// byte in binary content; each of these is needed here.
public struct MultipartParser: Sendable {
    /// What the parser found in the bytes fed so far, in order.
    public enum Event: Sendable, Equatable {
        /// A part begins; its body follows as `.body` events, then `.partEnd`.
        case part(MultipartPartHead)
        /// Bytes of the current part's body.
        case body(ByteBuffer)
        /// The current part's body is complete.
        case partEnd
    }

    private enum State {
        /// Before the first delimiter: ignored (RFC 2046's preamble).
        case preamble
        /// Just after a delimiter: `--` ends the body, else optional white space and CRLF.
        case afterDelimiter
        /// A part's header block, up to the empty line.
        case headers
        /// A part's body, up to the next delimiter.
        case body
        /// After the close delimiter: ignored (the epilogue).
        case epilogue
    }

    /// `CRLF--boundary`: what separates parts.
    private let delimiter: [UInt8]
    private let limits: MultipartLimits
    private var state = State.preamble
    /// Bytes fed but not yet turned into events.
    private var pending: ByteBuffer
    /// Parts begun so far.
    public private(set) var partCount = 0

    /// A parser for `boundary`. Throws a 400 if it is empty, longer than 70 characters or has
    /// characters RFC 2046 does not allow.
    public init(boundary: String, limits: MultipartLimits = MultipartLimits()) throws {
        guard Self.isValid(boundary: boundary) else {
            throw MultipartError.invalidBoundary(boundary)
        }
        self.delimiter = Array("\r\n--\(boundary)".utf8)
        self.limits = limits
        // The first delimiter may start the body with no CRLF before it: pretend there was one.
        self.pending = ByteBuffer(string: "\r\n")
    }

    /// A parser for the boundary of a `Content-Type` header: 415 if it is not
    /// `multipart/form-data`, 400 if its boundary is missing or invalid.
    public init(contentType: String?, limits: MultipartLimits = MultipartLimits()) throws {
        guard let contentType, let type = MediaType(contentType), type.type == "multipart/form-data" else {
            throw MultipartError.notMultipart(contentType.flatMap { MediaType($0)?.type })
        }
        guard let boundary = type.parameters["boundary"], !boundary.isEmpty else {
            throw MultipartError.missingBoundary
        }
        try self.init(boundary: boundary, limits: limits)
    }

    /// Parses `chunk` and returns what it completed.
    public mutating func feed(_ chunk: ByteBuffer) throws -> [Event] {
        var chunk = chunk
        if self.pending.readableBytes == 0 {
            self.pending = chunk
        } else {
            self.pending.writeBuffer(&chunk)
        }
        var events: [Event] = []
        while try self.step(&events) {}
        if self.pending.readableBytes == 0 {
            self.pending = ByteBuffer()
        } else if self.pending.readerIndex > 64 * 1024 {
            self.pending.discardReadBytes()
        }
        return events
    }

    /// At the body's end: throws a 400 unless the close delimiter was seen.
    public func finish() throws {
        switch self.state {
        case .epilogue:
            return
        case .preamble:
            throw MultipartError.truncated("no boundary delimiter was found")
        case .afterDelimiter, .headers:
            throw MultipartError.truncated("it ends in the headers of part \(self.partCount + (self.state == .headers ? 1 : 0))")
        case .body:
            throw MultipartError.truncated("it ends inside part \(self.partCount), before its closing boundary")
        }
    }

    /// One step of progress; false when more bytes are needed (or none are wanted).
    private mutating func step(_ events: inout [Event]) throws -> Bool {
        switch self.state {
        case .preamble:
            if let at = self.pending.firstIndex(of: self.delimiter) {
                self.pending.moveReaderIndex(forwardBy: at + self.delimiter.count)
                self.state = .afterDelimiter
                return true
            }
            // Keep what could be the start of a delimiter; drop the rest.
            self.pending.moveReaderIndex(forwardBy: max(0, self.pending.readableBytes - (self.delimiter.count - 1)))
            return false

        case .afterDelimiter:
            let view = self.pending.readableBytesView
            guard view.count >= 2 else { return false }
            if view.starts(with: [UInt8(ascii: "-"), UInt8(ascii: "-")]) {
                self.state = .epilogue
                return true
            }
            // Transport padding (white space), then CRLF.
            let padding = view.prefix { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }.count
            guard padding <= 64 else { throw MultipartError.malformed("white space after a boundary delimiter is too long") }
            guard view.count >= padding + 2 else { return false }
            guard view.dropFirst(padding).starts(with: [13, 10]) else {
                throw MultipartError.malformed("a boundary delimiter is not followed by CRLF")
            }
            self.pending.moveReaderIndex(forwardBy: padding + 2)
            self.state = .headers
            return true

        case .headers:
            let view = self.pending.readableBytesView
            let end: Int
            if view.starts(with: [13, 10]) {
                end = 0  // no headers at all
            } else if let at = self.pending.firstIndex(of: [13, 10, 13, 10]) {
                end = at + 2
            } else {
                // The block ends 2 bytes into its terminator (CRLF CRLF), which may start in the
                // last 3 bytes seen: only past limit + 1 bytes is it sure to be too large.
                guard view.count <= self.limits.maxPartHeaderSize + 1 else {
                    throw MultipartError.headersTooLarge(part: self.partCount + 1, limit: self.limits.maxPartHeaderSize)
                }
                return false
            }
            guard end <= self.limits.maxPartHeaderSize else {
                throw MultipartError.headersTooLarge(part: self.partCount + 1, limit: self.limits.maxPartHeaderSize)
            }
            let block = self.pending.readSlice(length: end)!
            self.pending.moveReaderIndex(forwardBy: 2)
            self.partCount += 1
            guard self.partCount <= self.limits.maxParts else {
                throw MultipartError.tooManyParts(limit: self.limits.maxParts)
            }
            events.append(.part(try MultipartPartHead(headerBlock: block, index: self.partCount)))
            self.state = .body
            return true

        case .body:
            if let at = self.pending.firstIndex(of: self.delimiter) {
                if at > 0 { events.append(.body(self.pending.readSlice(length: at)!)) }
                self.pending.moveReaderIndex(forwardBy: self.delimiter.count)
                events.append(.partEnd)
                self.state = .afterDelimiter
                return true
            }
            // All but what could be the start of a delimiter is body.
            let safe = self.pending.readableBytes - self.pending.delimiterPrefixLength(self.delimiter)
            if safe > 0 { events.append(.body(self.pending.readSlice(length: safe)!)) }
            return false

        case .epilogue:
            self.pending.moveReaderIndex(forwardBy: self.pending.readableBytes)
            return false
        }
    }

    /// RFC 2046: 1 to 70 characters of `bchars`, not ending in a space.
    static func isValid(boundary: String) -> Bool {
        let bytes = Array(boundary.utf8)
        guard (1...70).contains(bytes.count), bytes.last != UInt8(ascii: " ") else { return false }
        return bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "'()+_,-./:=? ".utf8.contains(byte)
        }
    }
}

extension ByteBuffer {
    /// The offset, from the reader index, of the first occurrence of `needle` in the readable bytes.
    func firstIndex(of needle: [UInt8]) -> Int? {
        guard let first = needle.first else { return 0 }
        return self.withUnsafeReadableBytes { haystack -> Int? in
            guard haystack.count >= needle.count, let base = haystack.baseAddress else { return nil }
            var offset = 0
            let last = haystack.count - needle.count
            while offset <= last {
                guard let found = memchr(base + offset, Int32(first), last - offset + 1) else { return nil }
                let at = base.distance(to: UnsafeRawPointer(found))
                if needle.withUnsafeBytes({ memcmp(base + at, $0.baseAddress!, needle.count) }) == 0 { return at }
                offset = at + 1
            }
            return nil
        }
    }

    /// How many of the last readable bytes are the start of `needle` (and so must wait for more).
    func delimiterPrefixLength(_ needle: [UInt8]) -> Int {
        let view = self.readableBytesView
        var length = Swift.min(needle.count - 1, view.count)
        while length > 0 {
            if view.suffix(length).elementsEqual(needle.prefix(length)) { return length }
            length -= 1
        }
        return 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
