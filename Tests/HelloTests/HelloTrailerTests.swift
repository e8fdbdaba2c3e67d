import Foundation
import ProcessTestSupport
import Testing

/// Request and response trailers, over real sockets: `hello`'s `GET /trailers` (a streamed body
/// ending with `x-checksum` and `grpc-status`) and `POST /trailers` (echoes the trailers the
/// client sent after its body), with curl over HTTP/1.1 and h2c, a hand-written chunked request,
/// and Python's `h2` sending HEADERS, DATA, HEADERS+END_STREAM as gRPC does.
@Suite(.serialized) struct HelloTrailerTests {
    static let executable = builtExecutable("hello")

    static func start() throws -> ServerProcess {
        try ServerProcess(Self.executable, ["serve", "--bind", "127.0.0.1:0", "--h2c"])
    }

    static func sha256(_ data: Data) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("trailer-body-\(UUID().uuidString)")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return String(try runProcess("/usr/bin/sha256sum", [file.path]).output.prefix(64))
    }

    /// curl's header dump (with the trailers after the body's end) and the body.
    static func curlWithTrailers(_ arguments: [String]) throws -> (headers: String, body: Data) {
        let directory = try makeTemporaryDirectory("trailers")
        let headers = directory.appendingPathComponent("headers").path
        let body = directory.appendingPathComponent("body").path
        _ = try curl(["-D", headers, "-o", body] + arguments)
        return (try String(contentsOfFile: headers, encoding: .utf8).lowercased(), try Data(contentsOf: URL(fileURLWithPath: body)))
    }

    /// Sends `request` on a new connection and reads until the server closes it.
    static func exchange(_ port: Int, _ request: String) throws -> String {
        let fd = connectTCP(port: port)
        guard fd >= 0 else { throw POSIXError(.ECONNREFUSED) }
        defer { close(fd) }
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    @Test func aStreamedResponseEndsWithTrailersOverHTTP1AndH2c() throws {
        let server = try Self.start()
        for protocolFlag in ["--http1.1", "--http2-prior-knowledge"] {
            let (headers, body) = try Self.curlWithTrailers([protocolFlag, "http://127.0.0.1:\(server.port)/trailers?chunks=5"])
            #expect(body.count == 5 * 1024)
            let sha = try Self.sha256(body)
            #expect(headers.contains("x-checksum: \(sha)"), "\(protocolFlag): \(headers)")
            #expect(headers.contains("grpc-status: 0"), "\(headers)")
            #expect(headers.contains("trailer: x-checksum, grpc-status"))
            if protocolFlag == "--http1.1" {
                #expect(headers.contains("transfer-encoding: chunked"))
                // The trailers come after the body: after the head's blank line.
                let head = headers.components(separatedBy: "\r\n\r\n").first ?? ""
                #expect(!head.contains("x-checksum:"))
            }
        }
        // On the wire (HTTP/1.1): the last chunk, then the trailer fields, then the blank line.
        let raw = try Self.exchange(server.port, "GET /trailers?chunks=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(raw.range(of: "\r\n0\r\n(x-checksum: [0-9a-f]{64}\r\ngrpc-status: 0|grpc-status: 0\r\nx-checksum: [0-9a-f]{64})\r\n\r\n$", options: .regularExpression) != nil, "\(raw.suffix(200))")
    }

    @Test func requestTrailersAfterAChunkedBodyAreReadAfterTheBodyAndNeverMergedIntoHeaders() throws {
        let server = try Self.start()
        let body = String(repeating: "abc", count: 1000)
        let sha = try Self.sha256(Data(body.utf8))
        let chunks = stride(from: 0, to: body.utf8.count, by: 1000).map { start -> String in
            let part = String(body.utf8.dropFirst(start).prefix(1000))!
            return String(part.utf8.count, radix: 16) + "\r\n" + part + "\r\n"
        }.joined()
        let request =
            "POST /trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n"
            + chunks + "0\r\nx-checksum: \(sha)\r\nauthorization: Bearer from-trailer\r\nx-request-id: from-trailer\r\n\r\n"
        let response = try Self.exchange(server.port, request)
        #expect(response.hasPrefix("HTTP/1.1 200"), "\(response)")
        let json = try #require(response.components(separatedBy: "\r\n\r\n").last)
        struct Echo: Decodable {
            let size: Int
            let sha256: String
            let trailers: [String: String]
            let checksum_ok: Bool?
        }
        let echo = try JSONDecoder().decode(Echo.self, from: Data(json.utf8))
        #expect(echo.size == 3000)
        #expect(echo.sha256 == sha)
        #expect(echo.checksum_ok == true)
        #expect(echo.trailers["x-checksum"] == sha)
        // A trailer named like a header is only a trailer: the request id came from the head
        // (it is not the trailer's), and `Authorization` stays a trailer.
        #expect(echo.trailers["authorization"] == "Bearer from-trailer")
        #expect(echo.trailers["x-request-id"] == "from-trailer")
        #expect(!response.lowercased().contains("x-request-id: from-trailer"))

        // A `Content-Length` trailer after a chunked body: the parser refuses the request.
        let framing = try Self.exchange(
            server.port,
            "POST /trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\ncontent-length: 5\r\n\r\n"
        )
        #expect(framing.hasPrefix("HTTP/1.1 400"), "\(framing)")

        // No trailers: an empty set; a body with Content-Length has none either.
        let plain = try curl(["--http1.1", "-H", "content-type: application/octet-stream", "--data-binary", "hello", "http://127.0.0.1:\(server.port)/trailers"])
        #expect(plain.contains(#""trailers":{}"#), "\(plain)")
        #expect(plain.contains(#""size":5"#))
    }

    @Test func requestTrailersPastTheHeaderLimitsAre431NamingTheLimit() throws {
        let server = try Self.start()
        let big = String(repeating: "v", count: 9000)
        let response = try Self.exchange(
            server.port,
            "POST /trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-big: \(big)\r\n\r\n"
        )
        #expect(response.hasPrefix("HTTP/1.1 431"), "\(response.prefix(300))")
        #expect(response.contains("Trailer field 'x-big' is 9007 bytes; the limit is 8190."), "\(response.suffix(300))")
        let many = (0..<120).map { "x-t\($0): 1\r\n" }.joined()
        let second = try Self.exchange(
            server.port,
            "POST /trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\(many)\r\n"
        )
        // Over HTTP/1.1 NIO's parser counts trailer fields as head fields: its 431.
        #expect(second.hasPrefix("HTTP/1.1 431"), "\(second.prefix(300))")
        #expect(second.contains("(limits: 100 header fields of 8190 bytes)"), "\(second.suffix(300))")
        // The server is fine afterwards.
        #expect(try curl(["http://127.0.0.1:\(server.port)/plaintext"]) == "Hello, World!")
    }

    @Test func http2TrailersBothWaysWithPythonH2() throws {
        let server = try Self.start()
        struct Report: Decodable {
            struct Get: Decodable {
                let status: String
                let body_sha256: String
                let body_size: Int
                let trailers: [String: String]?
                let trailers_after_data: Bool
                let end_stream_on_trailers: Bool
            }
            struct Post: Decodable {
                struct Echo: Decodable {
                    let size: Int
                    let trailers: [String: String]
                    let checksum_ok: Bool?
                }
                let status: String
                let body: Echo
            }
            struct Many: Decodable {
                let status: String
                let body: String
            }
            let get: Get
            let post: Post
            let many: Many
        }
        let printed = try runClientScript("h2_trailers.py", [String(server.port)])
        let report = try JSONDecoder().decode(Report.self, from: Data(printed.utf8))
        #expect(report.get.status == "200")
        #expect(report.get.body_size == 3 * 1024)
        #expect(report.get.trailers?["x-checksum"] == report.get.body_sha256)
        #expect(report.get.trailers?["grpc-status"] == "0")
        #expect(report.get.trailers_after_data)
        #expect(report.get.end_stream_on_trailers)
        #expect(report.post.status == "200")
        #expect(report.post.body.size == 5003)
        #expect(report.post.body.checksum_ok == true)
        #expect(report.post.body.trailers["grpc-status"] == "0")
        // Over HTTP/2 the count is checked when the trailers arrive: 431 naming the limit.
        #expect(report.many.status == "431")
        #expect(report.many.body.contains("The request has 120 trailer fields; the limit is 100."), "\(report.many.body)")
    }
}
