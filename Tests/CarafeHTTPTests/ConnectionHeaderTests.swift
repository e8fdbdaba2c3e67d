import Carafe
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// `Connection` semantics of HTTP/1.0 and 1.1, and the headers every response carries.
@Suite struct ConnectionHeaderTests {
    @Test func http10WithoutKeepAliveIsAnsweredThenClosed() async throws {
        try await withTestServer(configure: { $0.keepAliveTimeout = .seconds(30) }) { server in
            let connection = try await server.connect()
            try await connection.send("GET /old HTTP/1.0\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.version == "HTTP/1.0")
            #expect(response.bodyText == "GET /old\n")
            #expect(response.header("connection")?.lowercased() == "close")
            #expect(try await connection.waitForClose(timeout: 5), "an HTTP/1.0 connection without keep-alive must close")
        }
    }

    @Test func http10WithKeepAliveStaysOpen() async throws {
        try await withTestServer(configure: { $0.keepAliveTimeout = .seconds(30) }) { server in
            let connection = try await server.connect()
            try await connection.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let first = try await connection.readResponse()
            #expect(first.status == 200)
            #expect(first.version == "HTTP/1.0")
            #expect(first.header("connection")?.lowercased() == "keep-alive")
            #expect(first.header("content-length") == "7")

            #expect(try await connection.waitForClose(timeout: 0.3) == false)
            try await connection.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let second = try await connection.readResponse()
            #expect(second.bodyText == "GET /b\n")
            #expect(second.header("connection")?.lowercased() == "keep-alive")
        }
    }

    @Test func connectionCloseOnHTTP11IsHonoured() async throws {
        try await withTestServer(configure: { $0.keepAliveTimeout = .seconds(30) }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/bye", headers: ["Connection: close"]))
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "GET /bye\n")
            #expect(response.header("connection")?.lowercased() == "close")
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    @Test func aResponderAskingForCloseClosesTheConnection() async throws {
        let responder = ClosureResponder { _ in .text("last", headers: ["connection": "close"]) }
        try await withTestServer(responder: responder, configure: { $0.keepAliveTimeout = .seconds(30) }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            let response = try await connection.readResponse()
            #expect(response.headers(named: "connection").map { $0.lowercased() } == ["close"])
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    @Test func dateAndServerHeadersArePresent() async throws {
        try await withTestServer { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            let response = try await connection.readResponse()
            #expect(response.headers(named: "server") == ["Carafe"])
            let dates = response.headers(named: "date")
            #expect(dates.count == 1)
            let date = try #require(dates.first)
            #expect(
                date.wholeMatch(
                    of: /(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT/
                ) != nil,
                "\(date)"
            )
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let parsed = try #require(formatter.date(from: date))
            #expect(abs(parsed.timeIntervalSinceNow) < 120, "Date header \(date) is not now")
        }
    }

    @Test func serverHeaderFollowsTheConfiguration() async throws {
        try await withTestServer(configure: { $0.serverName = "Custom/2.0" }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            #expect(try await connection.readResponse().headers(named: "server") == ["Custom/2.0"])
        }
        try await withTestServer(configure: { $0.serverName = nil }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            let response = try await connection.readResponse()
            #expect(response.header("server") == nil)
            #expect(response.header("date") != nil)
        }
        let ownServer = ClosureResponder { _ in .text("x", headers: ["server": "Mine"]) }
        try await withTestServer(responder: ownServer) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            #expect(try await connection.readResponse().headers(named: "server") == ["Mine"])
        }
    }

    @Test func errorResponsesCarryDateAndServerToo() async throws {
        try await withTestServer { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/" + String(repeating: "x", count: 5000)))
            let response = try await connection.readResponse()
            #expect(response.status == 414)
            #expect(response.header("date") != nil)
            #expect(response.header("server") == "Carafe")
        }
    }
}
