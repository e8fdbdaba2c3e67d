import Carafe
import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import CarafeHTTP

/// Request bodies: Content-Length, chunked, `Expect: 100-continue`, and the body limit.
@Suite struct BodyTests {
    /// Echoes the body and its length, and counts calls.
    struct CountingEcho: HTTPResponder {
        let calls = Box(0)

        func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
            self.calls.update { $0 += 1 }
            return .text("\(request.body.readableBytes):" + String(buffer: request.body))
        }
    }

    @Test func aChunkedBodyIsCollected() async throws {
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
            #expect(try await connection.waitForClose(timeout: 0.2) == false)
        }
    }

    @Test func aChunkedBodyAtTheLimitIsAccepted() async throws {
        try await withTestServer(responder: CountingEcho(), configure: { $0.maxBodySize = 1024 }) { server in
            let connection = try await server.connect()
            let chunk = String(repeating: "a", count: 512)
            try await connection.send(
                rawRequest("POST", "/", headers: ["Transfer-Encoding: chunked"]) + "200\r\n\(chunk)\r\n200\r\n\(chunk)\r\n0\r\n\r\n"
            )
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText.hasPrefix("1024:aaaa"))
        }
    }

    @Test func aChunkedBodyOverTheLimitIs413() async throws {
        let responder = CountingEcho()
        try await withTestServer(responder: responder, configure: { $0.maxBodySize = 1024 }) { server in
            let connection = try await server.connect()
            let chunk = String(repeating: "b", count: 600)
            try await connection.send(
                rawRequest("POST", "/", headers: ["Transfer-Encoding: chunked"]) + "258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n"
            )
            let response = try await connection.readResponse()
            #expect(response.status == 413)
            #expect(response.bodyText.contains("1024"), "\(response.bodyText)")
            #expect(response.header("connection")?.lowercased() == "close")
            #expect(try await connection.waitForClose(timeout: 5))
            #expect(responder.calls.value == 0)
        }
    }

    @Test func aContentLengthBodyAtTheLimitIsAccepted() async throws {
        try await withTestServer(responder: CountingEcho(), configure: { $0.maxBodySize = 1000 }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/", body: String(repeating: "c", count: 1000)))
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText.hasPrefix("1000:ccc"))
        }
    }

    @Test func aContentLengthOverTheLimitIs413BeforeTheBody() async throws {
        let responder = CountingEcho()
        try await withTestServer(responder: responder, configure: { $0.maxBodySize = 1000 }) { server in
            let connection = try await server.connect()
            // Only the head: the server must not wait for a body it will not take.
            try await connection.send(rawRequest("POST", "/", headers: ["Content-Length: 1001"]))
            let response = try await connection.readResponse()
            #expect(response.status == 413)
            #expect(response.bodyText.contains("1000"), "\(response.bodyText)")
            #expect(response.header("connection")?.lowercased() == "close")
            #expect(try await connection.waitForClose(timeout: 5))
            #expect(responder.calls.value == 0)
        }
    }

    @Test func expect100ContinueGetsAnInterimResponseBeforeTheBody() async throws {
        let responder = CountingEcho()
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/", headers: ["Expect: 100-continue", "Content-Length: 11"]))

            let interim = try await connection.readResponse()
            #expect(interim.status == 100)
            #expect(interim.rawHead.hasPrefix("HTTP/1.1 100 Continue\r\n"), "\(interim.rawHead)")
            #expect(responder.calls.value == 0)

            try await connection.send("hello world")
            let final = try await connection.readResponse()
            #expect(final.status == 200)
            #expect(final.bodyText == "11:hello world")
            #expect(responder.calls.value == 1)
        }
    }

    @Test func expect100ContinueOverTheLimitIs413WithoutContinue() async throws {
        let responder = CountingEcho()
        try await withTestServer(responder: responder, configure: { $0.maxBodySize = 1000 }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/", headers: ["Expect: 100-continue", "Content-Length: 5000"]))
            let response = try await connection.readResponse()
            #expect(response.status == 413, "expected a 413 and no 100 Continue, got \(response.rawHead)")
            #expect(response.header("connection")?.lowercased() == "close")
            let rest = try await connection.readUntilClose(timeout: 5)
            #expect(!String(decoding: rest, as: UTF8.self).contains("100 Continue"))
            #expect(responder.calls.value == 0)
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
}
