import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// Backpressure both ways, over a real socket: a client that reads nothing stops a streamed
/// response's producer, and a handler that reads nothing stops the upload.
@Suite struct StreamingTests {
    static let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
    /// Far more than the kernel's socket buffers on loopback (at most 4 MiB to send, 32 MiB to
    /// receive here) and NIO's 64 KiB high-water mark can hold together.
    static let total = 256 << 20
    static let bound = 16 << 20

    @Test func aClientThatReadsNothingStopsTheProducer() async throws {
        let produced = Box(0)
        let failure = Box<String?>(nil)
        let responder = ClosureResponder { _ in
            HTTPServerResponse(
                status: .ok,
                body: .stream(length: Self.total) { writer in
                    do {
                        while produced.value < Self.total {
                            try await writer.write(Self.chunk)
                            produced.update { $0 += Self.chunk.readableBytes }
                        }
                    } catch {
                        failure.value = "\(error)"
                        throw error
                    }
                }
            )
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            // The producer runs ahead only as far as the buffers on the way let it.
            #expect(await eventually { produced.value > 0 })
            try await Task.sleep(for: .seconds(1))
            let ahead = produced.value
            #expect(ahead < Self.bound, "the producer wrote \(ahead) bytes to a client that read nothing")
            try await Task.sleep(for: .milliseconds(300))
            #expect(produced.value < Self.bound)
            // A client that leaves: the producer's next write throws instead of buffering on.
            connection.closeWithReset()
            #expect(await eventually { failure.value != nil }, "the producer was not told the client left")
            #expect(failure.value == "\(HTTPBodyError.connectionClosed)")
        }
    }

    @Test func aClientThatReadsGetsEveryByteWithContentLength() async throws {
        let responder = ClosureResponder { _ in
            HTTPServerResponse(
                status: .ok,
                body: .stream(length: 3 * Self.chunk.readableBytes + 5) { writer in
                    for _ in 0..<3 { try await writer.write(Self.chunk) }
                    try await writer.write(ByteBuffer(string: "tail!"))
                }
            )
        }
        try await withTestServer(responder: responder) { server in
            let result = try await curl(["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", server.baseURL + "/"])
            #expect(result.output == "200 \(3 * 64 * 1024 + 5)")
        }
    }

    @Test func aProducerThatWritesTooFewBytesGetsTheConnectionClosed() async throws {
        let responder = ClosureResponder { _ in
            HTTPServerResponse(
                status: .ok,
                body: .stream(length: 100) { writer in
                    try await writer.write(ByteBuffer(string: "only ten.."))
                }
            )
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            // The head promised 100 bytes; after 10 the server can only hang up.
            let rest = try await connection.readUntilClose(timeout: 5)
            let text = String(decoding: rest, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200 OK"))
            #expect(text.hasSuffix("only ten.."))
        }
    }

    @Test func anUploadIsReadOnlyAsFastAsTheHandlerConsumes() async throws {
        let consuming = Box(false)
        let received = Box(0)
        let responder = ClosureResponder { request in
            // Read nothing until told to.
            while !consuming.value { try? await Task.sleep(for: .milliseconds(20)) }
            do {
                for try await chunk in request.body { received.update { $0 += chunk.readableBytes } }
            } catch {
                return .text("failed: \(error)", status: .badRequest)
            }
            return .text("\(received.value)")
        }
        try await withTestServer(responder: responder) { server in
            let upload = try Uploader(port: server.port, length: Self.total)
            // For a second the client pushes what it can while the handler reads nothing.
            let pushed = upload.push(for: 1.0)
            #expect(pushed < Self.bound, "the server took \(pushed) bytes the handler had not asked for")
            #expect(received.value == 0)
            consuming.value = true
            let response = try await offload { try upload.finish() }
            #expect(response.hasPrefix("HTTP/1.1 200 OK"), "\(response.prefix(200))")
            #expect(response.hasSuffix("\r\n\r\n\(Self.total)"))
        }
    }

    @Test func aStreamedBodyCanBeIteratedOnce() async throws {
        let responder = ClosureResponder { request in
            let first = (try? await request.body.collect(upTo: 100)).map { String(buffer: $0) } ?? "?"
            do {
                _ = try await request.body.collect(upTo: 100)
                return .text("\(first) then read again")
            } catch {
                return .text("\(first) then \(error)")
            }
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/", headers: ["Content-Length: 5"], body: "hello"))
            let response = try await connection.readResponse()
            #expect(response.bodyText == "hello then \(HTTPBodyError.alreadyConsumed)")
        }
    }

    /// Sends one large upload on a raw socket: non-blocking while measuring, then blocking.
    final class Uploader: @unchecked Sendable {
        let fd: Int32
        let length: Int
        var sent = 0

        init(port: Int, length: Int) throws {
            self.length = length
            self.fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(self.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else { throw RawHTTPError.system("connect", errno) }
            let head = Array("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: \(length)\r\n\r\n".utf8)
            guard send(self.fd, head, head.count, Int32(MSG_NOSIGNAL)) == head.count else { throw RawHTTPError.system("send", errno) }
            _ = fcntl(self.fd, F_SETFL, fcntl(self.fd, F_GETFL) | O_NONBLOCK)
        }

        deinit { close(self.fd) }

        /// Sends without blocking for `seconds`; returns the body bytes the server has taken.
        func push(for seconds: Double) -> Int {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline && self.sent < self.length {
                if !self.sendSome() { usleep(10_000) }
            }
            return self.sent
        }

        /// Sends the rest, blocking, and returns the whole response.
        func finish() throws -> String {
            _ = fcntl(self.fd, F_SETFL, fcntl(self.fd, F_GETFL) & ~O_NONBLOCK)
            while self.sent < self.length {
                guard self.sendSome() else { throw RawHTTPError.system("send", errno) }
            }
            var response = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            while true {
                let count = recv(self.fd, &buffer, buffer.count, 0)
                if count <= 0 { break }
                response += buffer[..<count]
                if let text = String(bytes: response, encoding: .utf8), text.hasSuffix("\(self.length)") { break }
            }
            return String(decoding: response, as: UTF8.self)
        }

        /// One send of up to 64 KiB; false if the socket would block (or failed).
        private func sendSome() -> Bool {
            let count = min(64 * 1024, self.length - self.sent)
            let result = StreamingTests.chunk.withUnsafeReadableBytes { send(self.fd, $0.baseAddress, count, Int32(MSG_NOSIGNAL)) }
            guard result > 0 else { return false }
            self.sent += result
            return true
        }
    }
}
