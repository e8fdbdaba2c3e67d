import Carafe
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// Request bodies (Content-Length, chunked, `Expect: 100-continue`), the app's body limit, and
/// streamed responses.
///
/// The server streams a body to the responder as it arrives; limits on its size are the
/// responder's (`RequestBody.collect(upTo:)`), and for an `App` that is `App.maxBodySize`.
@Suite struct BodyTests {
    /// Reads the whole body, echoes its length and text, and counts calls.
    struct CountingEcho: HTTPResponder {
        let calls = Box(0)

        func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
            self.calls.update { $0 += 1 }
            let body = await collectText(request)
            guard let text = body.text else {
                return .text("could not read the body: \(body.error.map { "\($0)" } ?? "?")", status: .badRequest)
            }
            return .text("\(text.utf8.count):\(text)")
        }
    }

    /// An app with `POST /upload` echoing the collected body's length and text, and a body limit.
    static func uploadApp(maxBodySize: Int, calls: Box<Int>) -> App {
        let app = App()
        app.maxBodySize = maxBodySize
        app.post("/upload") { request in
            calls.update { $0 += 1 }
            return "\(request.body.readableBytes):\(request.bodyText)"
        }
        return app
    }

    @Test func aChunkedBodyIsStreamedToTheResponderWhole() async throws {
        try await withTestServer(responder: CountingEcho()) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/upload", headers: ["Transfer-Encoding: chunked"]))
            // Chunks in separate writes, one with an extension, then trailers.
            try await connection.send("7\r\nHello, \r\n")
            try await Task.sleep(for: .milliseconds(50))
            try await connection.send("8;name=value\r\nchunked \r\n")
            try await Task.sleep(for: .milliseconds(50))
            try await connection.send("6\r\nworld!\r\n0\r\nX-Trailer: yes\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "21:Hello, chunked world!")
            #expect(response.header("connection")?.lowercased() != "close")
            #expect(try await connection.waitForClose(timeout: 0.2) == false)
        }
    }

    @Test func anAppCollectsAChunkedBody() async throws {
        let calls = Box(0)
        try await withTestServer(responder: Self.uploadApp(maxBodySize: 1 << 20, calls: calls)) { server in
            let connection = try await server.connect()
            try await connection.send(
                rawRequest("POST", "/upload", headers: ["Transfer-Encoding: chunked"]) + "5\r\nfirst\r\n1\r\n-\r\n6\r\nsecond\r\n0\r\n\r\n"
            )
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "12:first-second")
            #expect(calls.value == 1)
        }
    }

    @Test func aChunkedBodyAtTheAppLimitIsAccepted() async throws {
        let calls = Box(0)
        try await withTestServer(responder: Self.uploadApp(maxBodySize: 1024, calls: calls)) { server in
            let connection = try await server.connect()
            let chunk = String(repeating: "a", count: 512)
            try await connection.send(
                rawRequest("POST", "/upload", headers: ["Transfer-Encoding: chunked"]) + "200\r\n\(chunk)\r\n200\r\n\(chunk)\r\n0\r\n\r\n"
            )
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText.hasPrefix("1024:aaaa"))
        }
    }

    @Test func aChunkedBodyOverTheAppLimitIs413() async throws {
        let calls = Box(0)
        try await withTestServer(responder: Self.uploadApp(maxBodySize: 1024, calls: calls)) { server in
            let connection = try await server.connect()
            let chunk = String(repeating: "b", count: 600)
            try await connection.send(
                rawRequest("POST", "/upload", headers: ["Transfer-Encoding: chunked"]) + "258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n"
            )
            let response = try await connection.readResponse()
            #expect(response.status == 413)
            #expect(response.bodyText.contains("1024"), "the message should name the limit: \(response.bodyText)")
            #expect(response.header("connection")?.lowercased() == "close")
            #expect(try await connection.waitForClose(timeout: 5))
            #expect(calls.value == 0, "the handler must not run for a body over the limit")
        }
    }

    @Test func aContentLengthBodyAtTheAppLimitIsAccepted() async throws {
        let calls = Box(0)
        try await withTestServer(responder: Self.uploadApp(maxBodySize: 1000, calls: calls)) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/upload", body: String(repeating: "c", count: 1000)))
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText.hasPrefix("1000:ccc"))
        }
    }

    @Test func aContentLengthOverTheAppLimitIs413BeforeTheBody() async throws {
        let calls = Box(0)
        try await withTestServer(responder: Self.uploadApp(maxBodySize: 1000, calls: calls)) { server in
            let connection = try await server.connect()
            // Only the head: the server must not wait for a body it will not take.
            try await connection.send(rawRequest("POST", "/upload", headers: ["Content-Length: 1001"]))
            let response = try await connection.readResponse()
            #expect(response.status == 413)
            #expect(response.bodyText.contains("1000"), "the message should name the limit: \(response.bodyText)")
            #expect(response.header("connection")?.lowercased() == "close")
            #expect(try await connection.waitForClose(timeout: 5))
            #expect(calls.value == 0)
        }
    }

    @Test func expect100ContinueGetsAnInterimResponseBeforeTheBody() async throws {
        try await withTestServer(responder: CountingEcho()) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/", headers: ["Expect: 100-continue", "Content-Length: 11"]))

            let interim = try await connection.readResponse()
            #expect(interim.status == 100)
            #expect(interim.rawHead.hasPrefix("HTTP/1.1 100 Continue\r\n"), "\(interim.rawHead)")

            try await connection.send("hello world")
            let final = try await connection.readResponse()
            #expect(final.status == 200)
            #expect(final.bodyText == "11:hello world")
            #expect(final.header("connection")?.lowercased() != "close")
        }
    }

    @Test func expect100ContinueThroughAnApp() async throws {
        let calls = Box(0)
        try await withTestServer(responder: Self.uploadApp(maxBodySize: 1000, calls: calls)) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/upload", headers: ["Expect: 100-continue", "Content-Length: 4"]))
            #expect(try await connection.readResponse().status == 100)
            #expect(calls.value == 0, "the handler ran before its body arrived")
            try await connection.send("data")
            let final = try await connection.readResponse()
            #expect(final.status == 200)
            #expect(final.bodyText == "4:data")
        }
    }

    @Test func expect100ContinueOverTheAppLimitIs413WithoutContinue() async throws {
        let calls = Box(0)
        try await withTestServer(responder: Self.uploadApp(maxBodySize: 1000, calls: calls)) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/upload", headers: ["Expect: 100-continue", "Content-Length: 5000"]))
            let response = try await connection.readResponse()
            #expect(response.status == 413, "expected a 413 and no 100 Continue, got \(response.rawHead)")
            #expect(response.header("connection")?.lowercased() == "close")
            let rest = try await connection.readUntilClose(timeout: 5)
            #expect(!String(decoding: rest, as: UTF8.self).contains("100 Continue"))
            #expect(calls.value == 0)
        }
    }

    @Test func aResponderThatIgnoresTheBodySendsNoContinueAndClosesTheConnection() async throws {
        let responder = ClosureResponder { _ in .text("not interested") }
        try await withTestServer(responder: responder, configure: { $0.keepAliveTimeout = .seconds(30) }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/", headers: ["Expect: 100-continue", "Content-Length: 100000"]))
            let response = try await connection.readResponse()
            #expect(response.status == 200, "expected the final response and no 100 Continue, got \(response.rawHead)")
            #expect(response.bodyText == "not interested")
            // The body was never read: the connection cannot be reused.
            #expect(response.header("connection")?.lowercased() == "close")
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    @Test func curlSendsExpect100ContinueAndAChunkedBody() async throws {
        try await withTestServer(responder: CountingEcho()) { server in
            let expecting = try await curl(["-v", "-H", "Expect: 100-continue", "--data-binary", "curl body", "\(server.baseURL)/"])
            #expect(expecting.exitCode == 0, "\(expecting.output)")
            #expect(expecting.output.contains("< HTTP/1.1 100 Continue"), "\(expecting.output)")
            #expect(expecting.output.contains("9:curl body"), "\(expecting.output)")

            let chunked = try await curl(["-v", "-H", "Transfer-Encoding: chunked", "--data-binary", "streamed body", "\(server.baseURL)/"])
            #expect(chunked.exitCode == 0, "\(chunked.output)")
            #expect(chunked.output.contains("13:streamed body"), "\(chunked.output)")
        }
    }

    @Test func streamedResponsesAreFramedAndKeepTheConnectionUsable() async throws {
        let responder = ClosureResponder { request in
            let parts = ["alpha ", "beta ", "gamma"]
            let length: Int? = request.head.uri == "/known" ? parts.joined().utf8.count : nil
            return HTTPServerResponse(
                status: .ok,
                headers: ["content-type": "text/plain"],
                body: .stream(length: length) { writer in
                    for part in parts {
                        try await writer.write(ByteBuffer(string: part))
                        try await Task.sleep(for: .milliseconds(10))
                    }
                }
            )
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()

            try await connection.send(rawRequest("GET", "/unknown"))
            let chunked = try await connection.readResponse()
            #expect(chunked.status == 200)
            #expect(chunked.header("transfer-encoding")?.lowercased() == "chunked")
            #expect(chunked.header("content-length") == nil)
            #expect(chunked.bodyText == "alpha beta gamma")

            try await connection.send(rawRequest("GET", "/known"))
            let sized = try await connection.readResponse()
            #expect(sized.header("content-length") == "16")
            #expect(sized.header("transfer-encoding") == nil)
            #expect(sized.bodyText == "alpha beta gamma")

            try await connection.send(rawRequest("HEAD", "/known") + rawRequest("GET", "/unknown"))
            let head = try await connection.readResponse(bodyless: true)
            #expect(head.status == 200)
            #expect(head.header("content-length") == "16")
            let after = try await connection.readResponse()
            #expect(after.bodyText == "alpha beta gamma", "bytes after the HEAD response head: \(after.rawHead)")
        }
    }
}
