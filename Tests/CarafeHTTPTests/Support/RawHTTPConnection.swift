import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// What can go wrong on a raw test connection.
enum RawHTTPError: Error, CustomStringConvertible {
    /// A system call failed with `errno`.
    case system(String, Int32)
    /// Nothing (more) arrived within the receive timeout.
    case timedOut(String)
    /// The peer closed the connection before what we waited for arrived.
    case closed(String)
    /// The bytes received are not an HTTP/1.x response.
    case malformed(String)

    var description: String {
        switch self {
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .timedOut(let what): "timed out: \(what)"
        case .closed(let what): "connection closed: \(what)"
        case .malformed(let what): "malformed response: \(what)"
        }
    }

    /// The errno of a failed system call, if that is what this is.
    var errnoCode: Int32? {
        if case .system(_, let code) = self { return code }
        return nil
    }
}

/// Runs blocking work on a Dispatch thread, so that blocking socket calls never tie up a
/// thread of Swift's cooperative pool (tests run in parallel, and the pool is small).
func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// One response as read off the wire.
struct RawHTTPResponse: Sendable, CustomStringConvertible {
    /// `HTTP/1.1` or `HTTP/1.0`.
    var version: String
    var status: Int
    var reason: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// The head exactly as received, up to and including the blank line.
    var rawHead: String

    /// The first value of the header `name` (case-insensitive).
    func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of the header `name` (case-insensitive).
    func headers(named name: String) -> [String] {
        self.headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    var bodyText: String { String(decoding: self.body, as: UTF8.self) }

    var description: String { self.rawHead + self.bodyText }
}

/// A plain blocking TCP (or unix domain socket) client, for talking HTTP/1.1 byte by byte.
///
/// Every receive is bounded by `SO_RCVTIMEO` and every send by `SO_SNDTIMEO`, so no test can
/// hang on it. Blocking calls go through `offload` in the async API.
///
/// One connection belongs to one test and is used from one task at a time.
final class RawHTTPConnection: @unchecked Sendable {
    private var fd: Int32
    /// Bytes received and not yet consumed by a read helper.
    private var pending: [UInt8] = []
    /// The receive timeout in seconds, used unless a call says otherwise.
    let timeout: Double

    /// Connects to `address` (IPv4, IPv6 or unix domain socket).
    private init(connectingTo address: SocketAddress, timeout: Double) throws {
        let family: Int32
        switch address {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        case .unixDomainSocket: family = AF_UNIX
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPError.system("socket", errno) }
        self.fd = fd
        self.timeout = timeout
        Self.setTimeout(fd, SO_RCVTIMEO, timeout)
        Self.setTimeout(fd, SO_SNDTIMEO, timeout)
        let result = address.withSockAddr { pointer, length in
            Glibc.connect(fd, pointer, socklen_t(length))
        }
        if result != 0 {
            let code = errno
            Glibc.close(fd)
            self.fd = -1
            throw RawHTTPError.system("connect to \(address)", code)
        }
    }

    deinit {
        if self.fd >= 0 { Glibc.close(self.fd) }
    }

    /// Connects to `address`; receives time out after `timeout` seconds.
    static func connect(to address: SocketAddress, timeout: Double = 5) async throws -> RawHTTPConnection {
        try await offload { try RawHTTPConnection(connectingTo: address, timeout: timeout) }
    }

    private static func setTimeout(_ fd: Int32, _ option: Int32, _ seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        if value.tv_sec == 0 && value.tv_usec == 0 { value.tv_usec = 1000 }  // 0 would mean "forever"
        _ = setsockopt(fd, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    // MARK: - Sending

    /// Sends all of `text` (UTF-8).
    func send(_ text: String) async throws {
        try await self.send(Array(text.utf8))
    }

    /// Sends all of `bytes`.
    func send(_ bytes: [UInt8]) async throws {
        try await offload { try self.sendBlocking(bytes) }
    }

    private func sendBlocking(_ bytes: [UInt8]) throws {
        guard self.fd >= 0 else { throw RawHTTPError.closed("send on a closed socket") }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { buffer in
                Glibc.send(self.fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw RawHTTPError.timedOut("send (\(offset) of \(bytes.count) bytes sent)")
                }
                throw RawHTTPError.system("send", errno)
            }
            offset += sent
        }
    }

    /// Ends our sending side (TCP half-close); the server sees end of input.
    func shutdownWrite() {
        if self.fd >= 0 { _ = Glibc.shutdown(self.fd, Int32(SHUT_WR)) }
    }

    /// Closes the socket normally (FIN).
    func close() {
        if self.fd >= 0 {
            Glibc.close(self.fd)
            self.fd = -1
        }
    }

    /// Closes the socket with a TCP reset (SO_LINGER 0).
    func closeWithReset() {
        guard self.fd >= 0 else { return }
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(self.fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        self.close()
    }

    // MARK: - Receiving

    private enum Received {
        case data
        case endOfFile
    }

    /// Receives what is there into `pending`, waiting at most `timeout` seconds (the
    /// connection's own if nil). A reset counts as end of file.
    private func receiveSome(timeout: Double? = nil) throws -> Received {
        guard self.fd >= 0 else { throw RawHTTPError.closed("receive on a closed socket") }
        if let timeout { Self.setTimeout(self.fd, SO_RCVTIMEO, timeout) }
        defer { if timeout != nil { Self.setTimeout(self.fd, SO_RCVTIMEO, self.timeout) } }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.recv(self.fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                self.pending.append(contentsOf: chunk[..<count])
                return .data
            }
            if count == 0 { return .endOfFile }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                throw RawHTTPError.timedOut("nothing received for \(timeout ?? self.timeout) s; buffered: \(self.pendingPreview)")
            case ECONNRESET: return .endOfFile
            default: throw RawHTTPError.system("recv", errno)
            }
        }
    }

    private var pendingPreview: String {
        let text = String(decoding: self.pending.prefix(300), as: UTF8.self)
        return text.isEmpty ? "(nothing)" : "\"\(text)\""
    }

    /// Fills `pending` until it holds at least `count` bytes.
    func fill(atLeast count: Int, what: String) throws {
        while self.pending.count < count {
            if case .endOfFile = try self.receiveSome() {
                throw RawHTTPError.closed("while reading \(what); buffered: \(self.pendingPreview)")
            }
        }
    }

    func take(_ count: Int) -> [UInt8] {
        let taken = Array(self.pending[..<count])
        self.pending.removeFirst(count)
        return taken
    }

    /// The index of the first `\r\n\r\n` (or `\r\n` if `line`) in `pending` at or after `start`.
    private func findTerminator(line: Bool, from start: Int = 0) -> Int? {
        let needle: [UInt8] = line ? [13, 10] : [13, 10, 13, 10]
        guard self.pending.count >= needle.count else { return nil }
        var index = start
        while index + needle.count <= self.pending.count {
            if self.pending[index] == needle[0] && Array(self.pending[index..<index + needle.count]) == needle {
                return index
            }
            index += 1
        }
        return nil
    }

    /// Reads one line (without its CRLF).
    private func readLine(what: String) throws -> String {
        while true {
            if let end = self.findTerminator(line: true) {
                let line = self.take(end)
                self.pending.removeFirst(2)
                return String(decoding: line, as: UTF8.self)
            }
            guard self.pending.count < 1 << 20 else { throw RawHTTPError.malformed("line too long in \(what)") }
            if case .endOfFile = try self.receiveSome() {
                throw RawHTTPError.closed("while reading \(what); buffered: \(self.pendingPreview)")
            }
        }
    }

    /// Reads one response. `bodyless` is for a response to HEAD, which has a
    /// `Content-Length` but no body bytes. A 1xx response is returned on its own.
    func readResponse(bodyless: Bool = false) async throws -> RawHTTPResponse {
        try await offload { try self.readResponseBlocking(bodyless: bodyless) }
    }

    private func readResponseBlocking(bodyless: Bool) throws -> RawHTTPResponse {
        var scanned = 0
        var headEnd: Int?
        while headEnd == nil {
            headEnd = self.findTerminator(line: false, from: max(0, scanned - 3))
            if headEnd != nil { break }
            scanned = self.pending.count
            guard self.pending.count < 1 << 20 else { throw RawHTTPError.malformed("response head over 1 MiB") }
            if case .endOfFile = try self.receiveSome() {
                throw RawHTTPError.closed("before a complete response head; buffered: \(self.pendingPreview)")
            }
        }
        let headBytes = self.take(headEnd! + 4)
        let rawHead = String(decoding: headBytes, as: UTF8.self)
        var lines = rawHead.components(separatedBy: "\r\n")
        lines.removeLast(2)  // the blank line and what follows it
        guard let statusLine = lines.first else { throw RawHTTPError.malformed("no status line in \(rawHead)") }
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            throw RawHTTPError.malformed("bad status line '\(statusLine)'")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw RawHTTPError.malformed("bad header line '\(line)'") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = RawHTTPResponse(
            version: String(parts[0]),
            status: status,
            reason: parts.count > 2 ? String(parts[2]) : "",
            headers: headers,
            body: [],
            rawHead: rawHead
        )
        if bodyless || (100..<200).contains(status) || status == 204 || status == 304 {
            return response
        }
        if let encoding = response.header("transfer-encoding"), encoding.lowercased().contains("chunked") {
            response.body = try self.readChunkedBody()
        } else if let lengthText = response.header("content-length") {
            guard let length = Int(lengthText), length >= 0 else { throw RawHTTPError.malformed("content-length '\(lengthText)'") }
            try self.fill(atLeast: length, what: "a body of \(length) bytes")
            response.body = self.take(length)
        } else {
            // Delimited by the end of the connection.
            while case .data = try self.receiveSome() {}
            response.body = self.take(self.pending.count)
        }
        return response
    }

    private func readChunkedBody() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let sizeLine = try self.readLine(what: "a chunk size")
            let sizeText = sizeLine.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw RawHTTPError.malformed("chunk size line '\(sizeLine)'")
            }
            if size == 0 {
                while try !self.readLine(what: "trailers").isEmpty {}
                return body
            }
            try self.fill(atLeast: size + 2, what: "a chunk of \(size) bytes")
            body += self.take(size)
            guard self.take(2) == [13, 10] else { throw RawHTTPError.malformed("chunk not followed by CRLF") }
        }
    }

    /// Reads until the server closes the connection (or resets it) and returns what came;
    /// throws `timedOut` if it is still open after `timeout` seconds.
    func readUntilClose(timeout: Double? = nil) async throws -> [UInt8] {
        try await offload {
            let deadline = Date().addingTimeInterval(timeout ?? self.timeout)
            while true {
                let left = deadline.timeIntervalSinceNow
                guard left > 0 else { throw RawHTTPError.timedOut("the server did not close; buffered: \(self.pendingPreview)") }
                if case .endOfFile = try self.receiveSome(timeout: left) {
                    return self.take(self.pending.count)
                }
            }
        }
    }

    /// True if the server closes (or resets) the connection within `timeout` seconds; bytes
    /// that arrive meanwhile are kept for later reads.
    func waitForClose(timeout: Double) async throws -> Bool {
        do {
            let rest = try await self.readUntilClose(timeout: timeout)
            self.pending = rest
            return true
        } catch RawHTTPError.timedOut {
            return false
        }
    }

    /// Bytes received but not consumed yet, after waiting up to `timeout` seconds for any.
    func unreadBytes(waiting timeout: Double) async throws -> [UInt8] {
        try await offload {
            if self.pending.isEmpty {
                do {
                    _ = try self.receiveSome(timeout: timeout)
                } catch RawHTTPError.timedOut {}
            }
            return self.pending
        }
    }
}
