import Carafe
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// The request-line and header limits (Gunicorn's defaults): 414 and 431, then close.
@Suite struct LimitsTests {
    /// Sends `request` (ignoring a send error: the server may hang up before taking it all),
    /// then reads the one response and checks that the connection closes after it.
    static func sendExpectingRejection(_ request: String, to server: TestServer) async throws -> RawHTTPResponse {
        let connection = try await server.connect()
        do {
            try await connection.send(request)
        } catch let error as RawHTTPError where error.errnoCode != nil {
            // EPIPE / ECONNRESET: the server answered and closed while we were still sending.
        }
        let response = try await connection.readResponse()
        #expect(response.header("connection")?.lowercased() == "close")
        #expect(try await connection.waitForClose(timeout: 5), "the connection must close after a \(response.status)")
        return response
    }

    /// The server still answers a new connection.
    static func expectStillServing(_ server: TestServer) async throws {
        let connection = try await server.connect()
        try await connection.send(rawRequest("GET", "/alive"))
        let response = try await connection.readResponse()
        #expect(response.status == 200)
        #expect(response.bodyText == "GET /alive\n")
    }

    @Test func theDefaultsAreGunicorns() {
        let configuration = HTTPServerConfiguration()
        #expect(configuration.maxRequestLine == 4094)
        #expect(configuration.maxHeaderFields == 100)
        #expect(configuration.maxHeaderFieldSize == 8190)
        #expect(App().maxBodySize == 1 << 20)
    }

    @Test func aRequestLineAtTheLimitIsAccepted() async throws {
        try await withTestServer { server in
            // "GET " + target + " HTTP/1.1" is 13 bytes plus the target.
            let target = "/" + String(repeating: "a", count: 4094 - 13 - 1)
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", target))
            let response = try await connection.readResponse()
            #expect(response.status == 200)
        }
    }

    @Test(arguments: [4095, 5000, 100_000])
    func aRequestLineOverTheLimitIs414(length: Int) async throws {
        try await withTestServer { server in
            let target = "/" + String(repeating: "a", count: length - 13 - 1)
            let response = try await Self.sendExpectingRejection(rawRequest("GET", target), to: server)
            #expect(response.status == 414, "a \(length)-byte request line: \(response)")
            #expect(response.bodyText.contains("4094"), "the message should name the limit: \(response.bodyText)")
            try await Self.expectStillServing(server)
        }
    }

    @Test func oneHundredHeaderFieldsAreAccepted() async throws {
        try await withTestServer { server in
            // Host plus 99 more.
            let headers = (1...99).map { "X-Field-\($0): \($0)" }
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/", headers: headers))
            #expect(try await connection.readResponse().status == 200)
        }
    }

    @Test func oneHundredAndOneHeaderFieldsAre431() async throws {
        try await withTestServer { server in
            let headers = (1...100).map { "X-Field-\($0): \($0)" }
            let response = try await Self.sendExpectingRejection(rawRequest("GET", "/", headers: headers), to: server)
            #expect(response.status == 431, "\(response)")
            #expect(response.bodyText.contains("100"), "the message should name the limit: \(response.bodyText)")
            try await Self.expectStillServing(server)
        }
    }

    @Test func aHeaderFieldAtTheLimitIsAccepted() async throws {
        try await withTestServer { server in
            // name + ": " + value = 8190
            let value = String(repeating: "v", count: 8190 - "X-Big".count - 2)
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/", headers: ["X-Big: \(value)"]))
            #expect(try await connection.readResponse().status == 200)
        }
    }

    @Test func aHeaderFieldOverTheLimitIs431NamingTheField() async throws {
        try await withTestServer { server in
            let value = String(repeating: "v", count: 8191 - "X-Big".count - 2)
            let response = try await Self.sendExpectingRejection(rawRequest("GET", "/", headers: ["X-Big: \(value)"]), to: server)
            #expect(response.status == 431, "\(response)")
            #expect(response.bodyText.lowercased().contains("x-big"), "the message should name the field: \(response.bodyText)")
            #expect(response.bodyText.contains("8190"), "the message should name the limit: \(response.bodyText)")
            try await Self.expectStillServing(server)
        }
    }

    @Test func aHugeHeadIs431AndTheServerSurvives() async throws {
        try await withTestServer { server in
            // 50 fields of 4 KB: each field and their count are within limits, the total is 200 KB.
            let value = String(repeating: "h", count: 4000)
            let headers = (1...50).map { "X-Huge-\($0): \(value)" }
            let response = try await Self.sendExpectingRejection(rawRequest("GET", "/", headers: headers), to: server)
            #expect(response.status == 431, "\(response.rawHead)")
            try await Self.expectStillServing(server)
        }
    }

    @Test func aSingleHugeHeaderFieldIs431() async throws {
        try await withTestServer { server in
            let value = String(repeating: "z", count: 200 * 1024)
            let response = try await Self.sendExpectingRejection(rawRequest("GET", "/", headers: ["X-Giant: \(value)"]), to: server)
            #expect(response.status == 431, "\(response.rawHead)")
            try await Self.expectStillServing(server)
        }
    }

    @Test func aBodyOverTheAppLimitWithContentLengthIs413() async throws {
        let app = App()
        app.maxBodySize = 2048
        app.put("/file") { request in "stored \(request.body.readableBytes)" }
        try await withTestServer(responder: app) { server in
            let response = try await Self.sendExpectingRejection(
                rawRequest("PUT", "/file", body: String(repeating: "d", count: 2049)),
                to: server
            )
            #expect(response.status == 413)
            #expect(response.bodyText.contains("2048"), "\(response.bodyText)")

            let fresh = try await server.connect()
            try await fresh.send(rawRequest("PUT", "/file", body: String(repeating: "d", count: 2048)))
            let accepted = try await fresh.readResponse()
            #expect(accepted.status == 200)
            #expect(accepted.bodyText == "stored 2048")
        }
    }
}
