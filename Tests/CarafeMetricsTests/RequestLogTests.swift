import Foundation
import ProcessTestSupport
import Testing

/// Request ids and the JSON access log, through `hello serve` over real sockets.
@Suite struct RequestLogTests {
    static let executable = builtExecutable("hello")

    static func headers(_ arguments: [String]) throws -> [String: String] {
        let text = try curl(["-s", "-D", "-", "-o", "/dev/null"] + arguments)
        var headers: [String: String] = [:]
        for line in text.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return headers
    }

    /// Sends `bytes` as a whole request on a new connection and reads until it closes.
    static func raw(_ port: Int, _ bytes: [UInt8]) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while recv(fd, &buffer, buffer.count, 0) > 0 {}
    }

    @Test func aTrustedPeersWellFormedIdIsKeptAndEchoedElseOneIsMade() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("request-id-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let server = try ServerProcess(
            Self.executable,
            [
                "serve", "--bind", "127.0.0.1:0", "--access-logfile", log.path, "--access-logformat",
                "%(s)s %({x-request-id}o)s %(L)s %({CARAFE_TEST_VARIABLE}e)s",
            ],
            environment: ["CARAFE_TEST_VARIABLE": "seen"]
        )
        let url = "http://127.0.0.1:\(server.port)/plaintext"
        #expect(try Self.headers(["-H", "X-Request-Id: abc-123_x.y:z", url])["x-request-id"] == "abc-123_x.y:z")
        let made = try Self.headers([url])["x-request-id"] ?? ""
        #expect(made.range(of: "^[0-9a-f]{32}$", options: .regularExpression) != nil, "\(made)")
        // Malformed (a space, a quote) or too long: replaced.
        let bad = try Self.headers(["-H", #"X-Request-Id: a "b""#, url])["x-request-id"] ?? ""
        #expect(bad.count == 32 && !bad.contains("\""))
        let long = try Self.headers(["-H", "X-Request-Id: " + String(repeating: "a", count: 129), url])["x-request-id"] ?? ""
        #expect(long.count == 32)
        let limit = String(repeating: "b", count: 128)
        #expect(try Self.headers(["-H", "X-Request-Id: " + limit, url])["x-request-id"] == limit)
        kill(server.pid, SIGTERM)
        #expect(server.waitForExit(timeout: 10))
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines.first?.hasPrefix("200 abc-123_x.y:z 0.") == true, "\(lines)")
        #expect(lines.first?.hasSuffix(" seen") == true, "\(lines)")
        #expect(lines[1].contains(" \(made) "))
    }

    @Test func theJSONAccessLogIsValidJSONWhateverThePathHolds() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("json-log-\(UUID()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let server = try ServerProcess(
            Self.executable,
            ["serve", "--bind", "127.0.0.1:0", "--access-logfile", log.path, "--access-logformat", "json"]
        )
        _ = try curl([
            "-s", "-o", "/dev/null", "-H", "X-Request-Id: req-1", "-H", #"User-Agent: a "quoted" \ agent"#,
            "http://127.0.0.1:\(server.port)/io?ms=1&x=%22",
        ])
        // A percent-escape that is not UTF-8, a quote, a backslash, a control character, raw bytes.
        _ = try curl(["-s", "-o", "/dev/null", #"http://127.0.0.1:\#(server.port)/a%FF%FE%22%5C%01b"#])
        try Self.raw(
            server.port,
            Array("GET /caf".utf8) + [0xC3, 0xA9, 0xFF] + Array(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
        )
        kill(server.pid, SIGTERM)
        #expect(server.waitForExit(timeout: 10))
        let data = try Data(contentsOf: log)
        #expect(String(data: data, encoding: .utf8) != nil, "the log is valid UTF-8")
        let lines = data.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count >= 2)
        var objects: [[String: Any]] = []
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            #expect(object != nil, "\(String(decoding: line, as: UTF8.self))")
            objects += object.map { [$0] } ?? []
        }
        let first = try #require(objects.first)
        for key in [
            "time", "remote", "method", "path", "query", "status", "bytes", "duration_ms", "request_id", "route", "worker", "user_agent",
            "referer",
        ] {
            #expect(first.keys.contains(key), "\(key) in \(first)")
        }
        #expect(first["path"] as? String == "/io")
        #expect(first["query"] as? String == "ms=1&x=%22")
        #expect(first["route"] as? String == "/io")
        #expect(first["status"] as? Int == 200)
        #expect(first["request_id"] as? String == "req-1")
        #expect(first["user_agent"] as? String == #"a "quoted" \ agent"#)
        #expect(first["remote"] as? String == "127.0.0.1")
        #expect(objects[1]["status"] as? Int == 404)
        #expect((objects[1]["path"] as? String)?.hasPrefix("/a") == true)
    }
}
