import Carafe
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// Requests the parser rejects: 400, close, and the server goes on serving others.
@Suite struct MalformedRequestTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        var testDescription: String { self.name }

        init(_ name: String, _ text: String) {
            self.name = name
            self.bytes = Array(text.utf8)
        }

        init(_ name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
        }
    }

    static let cases: [Case] = [
        Case(
            "garbage bytes (a TLS ClientHello)",
            bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a]
        ),
        Case("garbage text", "this is not HTTP at all\r\n\r\n"),
        Case("invalid method characters", "G@T / HTTP/1.1\r\nHost: x\r\n\r\n"),
        Case("bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
        Case("bad HTTP version", "GET / HTTP/1.x\r\nHost: x\r\n\r\n"),
        Case("bad protocol name", "GET / HTTX/1.1\r\nHost: x\r\n\r\n"),
        Case("NUL byte in the target", "GET /a\u{0}b HTTP/1.1\r\nHost: x\r\n\r\n"),
        Case("NUL byte in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\u{0}b\r\n\r\n"),
        Case("header without a colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n"),
        Case("conflicting Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
    ]

    @Test(arguments: cases)
    func isAnsweredWith400AndClosed(_ malformed: Case) async throws {
        // Reads the body first, as an app's collecting route does; counts requests it got whole.
        let complete = Box(0)
        let responder = ClosureResponder { request in
            guard await collectText(request).text != nil else { return .text("bad body", status: .badRequest) }
            complete.update { $0 += 1 }
            return .text("handled \(request.head.uri)")
        }
        try await withTestServer(responder: responder, configure: { $0.keepAliveTimeout = .seconds(30) }) { server in
            let connection = try await server.connect()
            try await connection.send(malformed.bytes)
            let response = try await connection.readResponse()
            #expect(response.status == 400, "\(response)")
            #expect(response.header("connection")?.lowercased() == "close")
            #expect(try await connection.waitForClose(timeout: 5), "the connection must close after a 400")
            #expect(complete.value == 0, "a malformed request must not reach the responder whole")

            let fresh = try await server.connect()
            try await fresh.send(rawRequest("GET", "/after"))
            let after = try await fresh.readResponse()
            #expect(after.status == 200)
            #expect(after.bodyText == "handled /after")
        }
    }

    @Test func garbageAfterAGoodRequestGetsTheGoodResponseThenA400() async throws {
        try await withTestServer { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/good") + "\u{1}\u{2}\u{3} nonsense\r\n\r\n")
            let good = try await connection.readResponse()
            #expect(good.status == 200)
            #expect(good.bodyText == "GET /good\n")
            let bad = try await connection.readResponse()
            #expect(bad.status == 400)
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }
}
