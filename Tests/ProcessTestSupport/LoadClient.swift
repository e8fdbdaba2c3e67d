import Foundation

/// A steady stream of `GET path` requests over `connections` keep-alive connections, one thread
/// each, with plain blocking sockets, counting what succeeded and what failed.
///
/// A request is retried once on a new connection, without counting as failed, when a reused
/// keep-alive connection was closed before any byte of the response came (the server closed it
/// while idle): RFC 9112 section 9.3.1 allows that, and curl, browsers and urllib3 all do it.
/// Any other error (refused, reset or cut short mid-response, not 200) is a failure.
public final class LoadClient: @unchecked Sendable {
    public struct Tally: Sendable {
        public var succeeded = 0
        public var failed = 0
        public var retried = 0
        /// Connections opened: far fewer than requests when keep-alive works.
        public var connections = 0
        /// Response bodies (for `/pid`: which worker answered) and how often each came.
        public var bodies: [String: Int] = [:]
        public var errors: [String] = []
    }

    private let port: Int
    private let path: String
    private let lock = NSLock()
    private var tally = Tally()
    private var stopping = false
    private let done = DispatchGroup()

    public init(port: Int, path: String = "/pid", connections: Int = 4, pause: useconds_t = 2000) {
        self.port = port
        self.path = path
        for _ in 0..<connections {
            self.done.enter()
            Thread.detachNewThread { [self] in
                self.drive(pause: pause)
                self.done.leave()
            }
        }
    }

    /// What has been counted so far.
    public var current: Tally { self.lock.withLock { self.tally } }

    /// Stops the clients, waits for them and returns the counts.
    public func stop() -> Tally {
        self.lock.withLock { self.stopping = true }
        self.done.wait()
        return self.current
    }

    private enum Outcome {
        case ok(body: String, close: Bool)
        case noResponse(String)
        case failed(String)
    }

    private func drive(pause: useconds_t) {
        var fd: Int32 = -1
        var reused = false
        while !self.lock.withLock({ self.stopping }) {
            if fd < 0 {
                fd = connectTCP(port: self.port)
                reused = false
                if fd < 0 {
                    self.record {
                        $0.failed += 1
                        $0.errors.append("connect: \(String(cString: strerror(errno)))")
                    }
                    usleep(10_000)
                    continue
                }
                self.record { $0.connections += 1 }
            }
            switch self.request(on: fd) {
            case .ok(let body, let close):
                self.record {
                    $0.succeeded += 1
                    $0.bodies[body, default: 0] += 1
                }
                if close {
                    Glibc.close(fd)
                    fd = -1
                } else {
                    reused = true
                }
            case .noResponse(let error) where reused:
                _ = error
                self.record { $0.retried += 1 }
                Glibc.close(fd)
                fd = -1
                continue
            case .noResponse(let error), .failed(let error):
                self.record {
                    $0.failed += 1
                    $0.errors.append(error)
                }
                Glibc.close(fd)
                fd = -1
            }
            if pause > 0 { usleep(pause) }
        }
        if fd >= 0 { Glibc.close(fd) }
    }

    private func record(_ change: (inout Tally) -> Void) {
        self.lock.withLock { change(&self.tally) }
    }

    private func request(on fd: Int32) -> Outcome {
        let text = "GET \(self.path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: carafe-load\r\n\r\n"
        let sent = text.utf8CString.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
        guard sent == text.utf8.count else { return .noResponse("send: \(String(cString: strerror(errno)))") }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var headEnd: Int?
        var contentLength = 0
        var close = false
        var status = ""
        while true {
            if let end = headEnd, received.count >= end + contentLength {
                let body = String(decoding: received[end..<(end + contentLength)], as: UTF8.self)
                return status == "200" ? .ok(body: body, close: close) : .failed("status \(status): \(body)")
            }
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 {
                let reason = count == 0 ? "connection closed" : String(cString: strerror(errno))
                return received.isEmpty ? .noResponse(reason) : .failed("\(reason) after \(received.count) bytes")
            }
            received += buffer[..<count]
            if headEnd == nil, let range = findHeadEnd(received) {
                headEnd = range
                let head = String(decoding: received[..<range], as: UTF8.self).lowercased()
                let lines = head.split(separator: "\r\n")
                status = lines.first.map { String($0.split(separator: " ").dropFirst().first ?? "") } ?? ""
                for line in lines.dropFirst() {
                    if line.hasPrefix("content-length:") {
                        contentLength = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
                    }
                    if line.hasPrefix("connection:"), line.contains("close") { close = true }
                }
            }
        }
    }

    private func findHeadEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count where bytes[index - 3] == 13 && bytes[index - 2] == 10 && bytes[index - 1] == 13 && bytes[index] == 10
        {
            return index + 1
        }
        return nil
    }
}

/// A blocking TCP connection to 127.0.0.1:`port` (10 s receive timeout, TCP_NODELAY), or -1 with errno set.
public func connectTCP(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return -1 }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        let saved = errno
        close(fd)
        errno = saved
        return -1
    }
    return fd
}
