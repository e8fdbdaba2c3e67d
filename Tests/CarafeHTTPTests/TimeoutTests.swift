import Carafe
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// The keep-alive and request-header timeouts of `ConnectionGuardHandler`.
///
/// Timeouts are configured at about a second (a loaded machine must not trip them early) and
/// checked against generous upper
/// bounds (5 s): the tests prove that a timeout fires, not how precisely.
@Suite struct TimeoutTests {
    @Test func anIdleKeepAliveConnectionIsClosedAfterTheTimeout() async throws {
        try await withTestServer(configure: {
            $0.keepAliveTimeout = .seconds(1)
            $0.requestHeaderTimeout = .seconds(30)
        }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.header("connection")?.lowercased() != "close")
            #expect(try await connection.waitForClose(timeout: 5), "the idle connection was not closed")
        }
    }

    @Test func aConnectionThatNeverSendsIsClosedAfterTheKeepAliveTimeout() async throws {
        try await withTestServer(configure: {
            $0.keepAliveTimeout = .seconds(1)
            $0.requestHeaderTimeout = .seconds(30)
        }) { server in
            let connection = try await server.connect()
            let rest = try await connection.readUntilClose(timeout: 5)
            #expect(rest.isEmpty, "nothing should be sent to a silent client: \(String(decoding: rest, as: UTF8.self))")
        }
    }

    @Test func aStalledRequestHeadGets408ThenClose() async throws {
        try await withTestServer(configure: {
            $0.keepAliveTimeout = .seconds(30)
            $0.requestHeaderTimeout = .seconds(1)
        }) { server in
            let connection = try await server.connect()
            try await connection.send("GET /slow HTTP/1.1\r\nHost: localhost\r\nX-Half: ")
            let response = try await connection.readResponse()
            #expect(response.status == 408)
            #expect(response.header("connection")?.lowercased() == "close")
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    @Test func aStalledSecondRequestOnAKeepAliveConnectionGets408() async throws {
        try await withTestServer(configure: {
            $0.keepAliveTimeout = .seconds(30)
            $0.requestHeaderTimeout = .seconds(1)
        }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/first"))
            #expect(try await connection.readResponse().status == 200)
            try await connection.send("GET /second HTTP/1.1\r\nHost: loc")
            let response = try await connection.readResponse()
            #expect(response.status == 408)
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    @Test func aSlowHandlerIsNotCutOffByTheTimeouts() async throws {
        let responder = ClosureResponder { _ in
            try? await Task.sleep(for: .milliseconds(2500))
            return .text("worth the wait")
        }
        try await withTestServer(
            responder: responder,
            configure: {
                $0.keepAliveTimeout = .seconds(1)
                $0.requestHeaderTimeout = .seconds(1)
            }
        ) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "worth the wait")
            // And after it, the keep-alive timeout applies again.
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    @Test func aCompleteHeadInTimeIsNotAnswered408() async throws {
        try await withTestServer(configure: {
            $0.keepAliveTimeout = .seconds(30)
            $0.requestHeaderTimeout = .seconds(3)
        }) { server in
            let connection = try await server.connect()
            // The head arrives in pieces, complete well within the header timeout.
            try await connection.send("GET /pieces HTTP/1.1\r\n")
            try await Task.sleep(for: .milliseconds(50))
            try await connection.send("Host: localhost\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "GET /pieces\n")
        }
    }
}
