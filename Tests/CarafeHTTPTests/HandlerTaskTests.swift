import Carafe
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import CarafeHTTP

/// The task a request runs in: on the connection's event loop, and cancelled when the
/// client goes away.
@Suite struct HandlerTaskTests {
    /// Sleeps "forever" and records whether it was cancelled.
    struct SleepingResponder: HTTPResponder {
        let started = Box(false)
        let cancelled = Box(false)

        func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
            self.started.value = true
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                self.cancelled.value = Task.isCancelled
            }
            return .text("done")
        }
    }

    @Test func aClientThatClosesTheConnectionCancelsTheHandler() async throws {
        let responder = SleepingResponder()
        // A short graceful timeout, so that a handler that was not cancelled does not hold up shutdown.
        try await withTestServer(responder: responder, configure: { $0.gracefulTimeout = .seconds(1) }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/long"))
            #expect(await eventually { responder.started.value }, "the request never reached the responder")
            connection.close()
            #expect(await eventually(timeout: 5) { responder.cancelled.value }, "closing the connection did not cancel the handler's task")
        }
    }

    @Test func aClientThatResetsTheConnectionCancelsTheHandler() async throws {
        let responder = SleepingResponder()
        try await withTestServer(responder: responder, configure: { $0.gracefulTimeout = .seconds(1) }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/long"))
            #expect(await eventually { responder.started.value })
            connection.closeWithReset()
            #expect(
                await eventually(timeout: 5) { responder.cancelled.value },
                "resetting the connection did not cancel the handler's task"
            )
        }
    }

    @Test func aHalfClosedClientStillGetsItsResponse() async throws {
        // shutdown(SHUT_WR) after the request is legal: the client still reads the answer.
        let responder = ClosureResponder { _ in
            try? await Task.sleep(for: .milliseconds(200))
            return .text("answered")
        }
        try await withTestServer(responder: responder, configure: { $0.keepAliveTimeout = .seconds(30) }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            connection.shutdownWrite()
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "answered")
            // The client can send nothing more: the server closes once it has answered.
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    /// Where a responder's code ran, before and after suspending.
    struct Placement: Sendable {
        var loopBefore: ObjectIdentifier?
        var loopAfter: ObjectIdentifier?
        var threadBefore = ""
        var threadAfter = ""
    }

    @Test func aHandlerRunsOnTheConnectionsEventLoopBeforeAndAfterAwaiting() async throws {
        let placements = Box<[Placement]>([])
        let responder = ClosureResponder { _ in
            var placement = Placement()
            placement.loopBefore = MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) }
            placement.threadBefore = currentThreadName()
            try? await Task.sleep(for: .milliseconds(20))
            placement.loopAfter = MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) }
            placement.threadAfter = currentThreadName()
            placements.update { $0.append(placement) }
            return .text("ok")
        }
        try await withTestServer(responder: responder) { server in
            // Several connections, spread over the server's two loops.
            for _ in 0..<4 {
                let connection = try await server.connect()
                for _ in 0..<2 {
                    try await connection.send(rawRequest())
                    #expect(try await connection.readResponse().status == 200)
                }
            }
            let all = placements.value
            #expect(all.count == 8)
            for placement in all {
                #expect(placement.loopBefore != nil, "not on an event loop before awaiting (thread '\(placement.threadBefore)')")
                #expect(
                    placement.loopAfter == placement.loopBefore,
                    "moved from its event loop across an await (thread '\(placement.threadAfter)')"
                )
                #expect(placement.threadBefore.hasPrefix("NIO-ELT"), "thread '\(placement.threadBefore)'")
                #expect(placement.threadAfter == placement.threadBefore)
            }
        }
    }

    @Test func anAppHandlerRunsOnTheEventLoop() async throws {
        let app = App()
        app.get("/where") { _ -> String in
            let before = MultiThreadedEventLoopGroup.currentEventLoop != nil
            try await Task.sleep(for: .milliseconds(20))
            let after = MultiThreadedEventLoopGroup.currentEventLoop != nil
            return "before=\(before) after=\(after) thread=\(currentThreadName())"
        }
        try await withTestServer(responder: app) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/where"))
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText.hasPrefix("before=true after=true thread=NIO-ELT"), "\(response.bodyText)")
        }
    }
}
