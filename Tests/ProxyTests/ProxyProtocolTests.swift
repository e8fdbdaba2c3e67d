import Foundation
import ProcessTestSupport
import Testing

/// `serve --proxy-protocol`: version 1 from nginx's `stream` module, version 2 and hostile
/// headers from a raw socket.
@Suite struct ProxyProtocolTests {
    static func carafe(_ extra: [String] = [], accessLog: String? = nil) throws -> ServerProcess {
        try ServerProcess(
            builtExecutable("behind-proxy"),
            ["serve", "--bind", "127.0.0.1:0", "--proxy-protocol", "--log-level", "info"] + extra
                + (accessLog.map { ["--access-logfile", $0] } ?? [])
        )
    }

    static let request = Array("GET /client HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)

    @Test func version1FromNginxStream() throws {
        let directory = try testDirectory()
        let accessLog = directory.appendingPathComponent("access.log").path
        let carafe = try Self.carafe(accessLog: accessLog)
        let port = freePort()
        let nginx = try NginxProcess(
            http: "",
            stream: """
                server {
                    listen [::1]:\(port);
                    listen 127.0.0.1:\(port);
                    proxy_pass 127.0.0.1:\(carafe.port);
                    proxy_protocol on;
                }
                """,
            waitForPort: port
        )
        // The client is ::1; nginx connects to Carafe from 127.0.0.1 and says so in the header.
        let client = try ClientView.get("http://[::1]:\(port)/client", ["-A", "through-stream"])
        #expect(client.remote == "::1")
        #expect(
            eventually(timeout: 5) {
                ((try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? "").contains(#"::1 - - "#)
            }
        )
        // Keep-alive through the stream proxy: two requests on one connection, one header.
        let two = try curl(["http://127.0.0.1:\(port)/plaintext", "http://127.0.0.1:\(port)/plaintext"])
        #expect(two == "Hello, World!Hello, World!")
        _ = nginx
    }

    @Test func version2WithTLVsInPiecesAndLocal() throws {
        let carafe = try Self.carafe()
        // PROXY, TCP over IPv4, 203.0.113.7:5555 -> 127.0.0.1:80, then a NOOP TLV of 3 bytes.
        var header = Self.signature + [0x21, 0x11, 0x00, 12 + 6]
        header += [203, 0, 113, 7, 127, 0, 0, 1, 0x15, 0xB3, 0x00, 0x50]
        header += [0x04, 0x00, 0x03, 1, 2, 3]
        // Split inside the signature, inside the addresses, and between header and request.
        let pieces = [Array(header[0..<5]), Array(header[5..<20]), Array(header[20...]), Self.request]
        let response = exchange(port: carafe.port, pieces)
        #expect(response.contains(#""remote":"203.0.113.7""#), "\(response)")
        // LOCAL (a balancer's health check): the connection is the balancer's own.
        let local = exchange(port: carafe.port, [Self.signature + [0x20, 0x00, 0x00, 0x00] + Self.request])
        #expect(local.contains(#""remote":"127.0.0.1""#), "\(local)")
        // IPv6: 2001:db8::9 port 1.
        var v6 = Self.signature + [0x21, 0x21, 0x00, 36]
        v6 += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [9] + [UInt8](repeating: 0, count: 15) + [1] + [0, 1, 0, 80]
        let six = exchange(port: carafe.port, [v6 + Self.request])
        #expect(six.contains(#""remote":"2001:db8::9""#), "\(six)")
    }

    @Test func version1ByteByByte() throws {
        let carafe = try Self.carafe()
        let header = Array("PROXY TCP4 198.51.100.9 127.0.0.1 4444 80\r\n".utf8)
        let response = exchange(port: carafe.port, header.map { [$0] } + [Self.request])
        #expect(response.contains(#""remote":"198.51.100.9""#), "\(response)")
        let unknown = exchange(port: carafe.port, [Array("PROXY UNKNOWN\r\n".utf8) + Self.request])
        #expect(unknown.contains(#""remote":"127.0.0.1""#), "\(unknown)")
    }

    @Test func hostileHeadersCloseTheConnectionWithALogLine() throws {
        let carafe = try Self.carafe()
        let hostile: [(String, [UInt8])] = [
            ("no header", Self.request),
            ("bad address", Array("PROXY TCP4 999.0.0.1 127.0.0.1 1 2\r\n".utf8)),
            ("missing fields", Array("PROXY TCP4 1.2.3.4\r\n".utf8)),
            ("too long", Array(("PROXY TCP4 " + String(repeating: "1", count: 200)).utf8)),
            ("bad port", Array("PROXY TCP4 1.2.3.4 127.0.0.1 99999 80\r\n".utf8)),
            ("no CR", Array("PROXY TCP4 1.2.3.4 127.0.0.1 1 80\n".utf8)),
            ("v2 version 3", Self.signature + [0x31, 0x11, 0x00, 0x00]),
            ("v2 short IPv4 block", Self.signature + [0x21, 0x11, 0x00, 0x04, 1, 2, 3, 4]),
            ("v2 bad command", Self.signature + [0x2F, 0x11, 0x00, 0x00]),
        ]
        for (name, bytes) in hostile {
            let response = exchange(port: carafe.port, [bytes, Self.request])
            #expect(response.isEmpty, "\(name): \(response)")
        }
        // Logged, but rate-limited: the first refusal, then at most one line per 10 s.
        #expect(carafe.waitForOutput("invalid PROXY protocol header", timeout: 5), "\(carafe.output)")
        #expect((1...2).contains(carafe.output.components(separatedBy: "invalid PROXY protocol header").count - 1), "\(carafe.output)")
        // Still serving.
        let good = exchange(port: carafe.port, [Array("PROXY TCP4 192.0.2.1 127.0.0.1 1 80\r\n".utf8) + Self.request])
        #expect(good.contains(#""remote":"192.0.2.1""#))
        #expect(carafe.process.isRunning)
    }

    @Test func aPeerNotAllowedToSendHeadersIsClosed() throws {
        let carafe = try Self.carafe(["--proxy-allow-from", "10.9.9.9"])
        let response = exchange(port: carafe.port, [Array("PROXY TCP4 192.0.2.1 127.0.0.1 1 80\r\n".utf8) + Self.request])
        #expect(response.isEmpty)
        #expect(carafe.waitForOutput("not in --proxy-allow-from", timeout: 5), "\(carafe.output)")
    }

    /// A flood of refused connections is not a flood of log lines: the first is logged, the
    /// rest within 10 s are counted into the next line.
    @Test func aFloodOfRefusedConnectionsLogsALineOrTwo() throws {
        let carafe = try Self.carafe(["--proxy-allow-from", "10.9.9.9"])
        for _ in 0..<60 {
            #expect(exchange(port: carafe.port, [Array("PROXY TCP4 192.0.2.1 127.0.0.1 1 80\r\n".utf8) + Self.request]).isEmpty)
        }
        #expect(carafe.waitForOutput("not in --proxy-allow-from", timeout: 5), "\(carafe.output)")
        usleep(300_000)
        let lines = carafe.output.components(separatedBy: "not in --proxy-allow-from").count - 1
        #expect((1...2).contains(lines), "\(lines) lines for 60 refused connections")
        #expect(carafe.process.isRunning)
    }

    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
}

/// Connects to 127.0.0.1:`port`, sends each piece (20 ms apart, so they arrive as separate
/// reads) and returns everything received until the server closes (empty if it closed at once).
func exchange(port: Int, _ pieces: [[UInt8]]) -> String {
    let fd = connectTCP(port: port)
    guard fd >= 0 else { return "connect failed" }
    defer { close(fd) }
    for piece in pieces {
        let sent = piece.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent < 0 { break }
        usleep(20_000)
    }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while received.count < 1 << 20 {
        let count = recv(fd, &buffer, buffer.count, 0)
        if count <= 0 { break }
        received += buffer[..<count]
    }
    return String(decoding: received, as: UTF8.self)
}
