import Foundation
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Testing

@testable import CarafeHTTP

/// RFC 6455 over a real socket, frame by frame, with a client that can also break the rules.
@Suite struct WebSocketTests {
    /// Answers every request by switching to WebSocket and running `handler`.
    static func upgrading(
        _ options: WebSocketOptions = WebSocketOptions(),
        _ handler: @escaping @Sendable (WebSocket) async throws -> Void
    ) -> ClosureResponder {
        ClosureResponder { request in
            if request.head.uri == "/plain" { return .text("plain") }
            return HTTPServerResponse(status: .switchingProtocols, body: .webSocket(options, handler))
        }
    }

    static let echo = upgrading { ws in
        for await message in ws.messages { try await ws.send(message) }
    }

    @Test func theHandshakeAnswers101WithTheAcceptValueOfTheRFC() async throws {
        try await withTestServer(responder: Self.echo) { server in
            let connection = try await server.connect()
            let response = try await connection.openWebSocket()
            #expect(response.status == 101)
            #expect(response.header("Sec-WebSocket-Accept") == webSocketAccept)
            #expect(response.header("Upgrade")?.lowercased() == "websocket")
            #expect(response.header("Connection")?.lowercased() == "upgrade")
            #expect(response.header("Content-Length") == nil && response.header("Transfer-Encoding") == nil)
        }
    }

    @Test func textAndBinaryMessagesAreEchoedWithTheirType() async throws {
        try await withTestServer(responder: Self.echo) { server in
            let connection = try await server.connect()
            _ = try await connection.openWebSocket()
            try await connection.send(.text("héllo"))
            #expect(try await connection.readFrame() == .text("héllo"))
            let bytes = (0..<70_000).map { UInt8($0 % 251) }  // a 64-bit length field
            try await connection.send(.binary(bytes))
            #expect(try await connection.readFrame() == .binary(bytes))
        }
    }

    @Test func fragmentsAreJoinedAndAPingBetweenThemIsAnsweredFirst() async throws {
        try await withTestServer(responder: Self.echo) { server in
            let connection = try await server.connect()
            _ = try await connection.openWebSocket()
            try await connection.send(.text("frag", fin: false))
            try await connection.send(.ping("are you there"))
            try await connection.send(.continuation("ment", fin: false))
            try await connection.send(.continuation("ed", fin: true))
            #expect(try await connection.readFrame() == RawFrame(opcode: 0xA, payload: Array("are you there".utf8)))
            #expect(try await connection.readFrame() == .text("fragmented"))
        }
    }

    @Test func thePeersCloseIsEchoedWithItsCodeAndEndsTheMessages() async throws {
        let seen = Box<(code: WebSocketErrorCode?, count: Int)?>(nil)
        let responder = Self.upgrading { ws in
            var count = 0
            for await _ in ws.messages { count += 1 }
            seen.value = (ws.closeCode, count)
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            _ = try await connection.openWebSocket()
            try await connection.send(.text("one"))
            try await connection.send(.close(4000, "bye"))
            let answer = try await connection.readClose()
            #expect(answer.closeCode == 4000)
            #expect(try await connection.waitForClose(timeout: 5), "the server did not close the socket after the handshake")
            #expect(await eventually { seen.value != nil })
            #expect(seen.value?.code == WebSocketErrorCode(codeNumber: 4000))
            #expect(seen.value?.count == 1)
        }
    }

    @Test(arguments: [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999] as [UInt16])
    func anInvalidCloseCodeIsAnsweredWith1002(code: UInt16) async throws {
        let responder = Self.upgrading { ws in
            for await _ in ws.messages {}
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            _ = try await connection.openWebSocket()
            try await connection.send(.close(code))
            #expect(try await connection.readClose().closeCode == 1002, "close code \(code)")
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    @Test func aHandlerThatReturnsClosesWith1000AndOneThatThrowsWith1011() async throws {
        struct Oops: Error {}
        let responder = ClosureResponder { request in
            HTTPServerResponse(
                status: .switchingProtocols,
                body: .webSocket(WebSocketOptions()) { ws in
                    try await ws.send("bye")
                    if request.head.uri == "/throw" { throw Oops() }
                }
            )
        }
        try await withTestServer(responder: responder) { server in
            for (path, code) in [("/ws", UInt16(1000)), ("/throw", UInt16(1011))] {
                let connection = try await server.connect()
                _ = try await connection.openWebSocket(path: path)
                #expect(try await connection.readFrame() == .text("bye"))
                #expect(try await connection.readClose().closeCode == code, "\(path)")
                // The server waits for our answer to its close, then hangs up.
                try await connection.send(.close(code))
                #expect(try await connection.waitForClose(timeout: 5))
            }
        }
    }

    @Test func aMessageOverTheLimitClosesWith1009WhetherOneFrameOrFragments() async throws {
        let responder = Self.upgrading(WebSocketOptions(maxMessageSize: 1000)) { ws in
            for await message in ws.messages { try await ws.send(message) }
        }
        try await withTestServer(responder: responder) { server in
            let exactly = try await server.connect()
            _ = try await exactly.openWebSocket()
            try await exactly.send(.binary([UInt8](repeating: 7, count: 1000)))
            #expect(try await exactly.readFrame().payload.count == 1000)

            let oneFrame = try await server.connect()
            _ = try await oneFrame.openWebSocket()
            try await oneFrame.send(.binary([UInt8](repeating: 7, count: 1001)))
            #expect(try await oneFrame.readClose().closeCode == 1009)
            #expect(try await oneFrame.waitForClose(timeout: 5))

            let fragments = try await server.connect()
            _ = try await fragments.openWebSocket()
            try await fragments.send(.text(String(repeating: "a", count: 600), fin: false))
            try await fragments.send(.continuation(String(repeating: "b", count: 600), fin: true))
            #expect(try await fragments.readClose().closeCode == 1009)
            #expect(try await fragments.waitForClose(timeout: 5))
        }
    }

    @Test func brokenFramesCloseWithTheRFCsCodes() async throws {
        let cases: [(String, RawFrame, Bool, UInt16)] = [
            ("text that is not UTF-8", RawFrame(opcode: 0x1, payload: [0xC3, 0x28]), true, 1007),
            ("an unmasked frame", .text("hi"), false, 1002),
            ("a reserved opcode", RawFrame(opcode: 0x3, payload: []), true, 1002),
            ("a continuation of nothing", .continuation("x", fin: true), true, 1002),
        ]
        try await withTestServer(responder: Self.echo) { server in
            for (what, frame, masked, code) in cases {
                let connection = try await server.connect()
                _ = try await connection.openWebSocket()
                try await connection.send(frame, masked: masked)
                #expect(try await connection.readClose().closeCode == code, "\(what)")
                #expect(try await connection.waitForClose(timeout: 5), "\(what)")
            }
            // The server is unharmed.
            let connection = try await server.connect()
            _ = try await connection.openWebSocket()
            try await connection.send(.text("still here"))
            #expect(try await connection.readFrame() == .text("still here"))
        }
    }

    @Test func aKeptAliveConnectionCanSwitchAfterAPlainRequest() async throws {
        // nginx reuses its upstream connections, so an upgrade may come after other requests.
        try await withTestServer(responder: Self.echo) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/plain"))
            #expect(try await connection.readResponse().bodyText == "plain")
            #expect(try await connection.openWebSocket().status == 101)
            try await connection.send(.text("after"))
            #expect(try await connection.readFrame() == .text("after"))
        }
    }

    @Test func aRefusedUpgradeIsAnsweredAndTheConnectionClosed() async throws {
        let responder = ClosureResponder { _ in .text("no WebSocket here", status: .notFound) }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            let response = try await connection.openWebSocket()
            #expect(response.status == 404)
            #expect(response.header("Connection") == "close")
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    @Test func anUpgradeOfARequestThatIsNotAWebSocketOpeningIs400() async throws {
        try await withTestServer(responder: Self.echo) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/ws"))
            let response = try await connection.readResponse()
            #expect(response.status == 400)
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    @Test func aClientThatVanishesCancelsTheHandler() async throws {
        let cancelled = Box(false)
        let responder = Self.upgrading { _ in
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                cancelled.value = true
            }
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            _ = try await connection.openWebSocket()
            connection.closeWithReset()
            #expect(await eventually { cancelled.value }, "the handler still runs after its client left")
        }
    }

    @Test func aShutdownClosesWith1001AndWaitsForTheHandshake() async throws {
        let server = try await TestServer.start(responder: Self.echo)
        let connection = try await server.connect()
        _ = try await connection.openWebSocket()
        let stopping = Task { await server.shutdown() }
        let close = try await connection.readClose()
        #expect(close.closeCode == 1001)
        try await connection.send(.close(1001))
        #expect(try await connection.waitForClose(timeout: 5))
        await stopping.value
    }

    @Test func aSilentPeerIsPingedAndDroppedWhenItNeverAnswers() async throws {
        let responder = Self.upgrading(WebSocketOptions(pingInterval: .milliseconds(200))) { ws in
            for await _ in ws.messages {}
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            _ = try await connection.openWebSocket()
            #expect(try await connection.readFrame().opcode == 0x9)
            // No pong: at the next ping the server gives up.
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    @Test func sendsStopWhileTheClientReadsNothing() async throws {
        let sent = Box(0)
        let failure = Box<String?>(nil)
        let chunk = ByteBuffer(repeating: 1, count: 64 * 1024)
        let responder = Self.upgrading { ws in
            do {
                while sent.value < 4096 {
                    try await ws.send(.binary(chunk))
                    sent.update { $0 += 1 }
                }
            } catch {
                failure.value = "\(error)"
            }
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            _ = try await connection.openWebSocket()
            #expect(await eventually { sent.value > 0 })
            try await Task.sleep(for: .seconds(1))
            let ahead = sent.value
            // 256 MiB would be sent without backpressure; the buffers on the way hold far less.
            #expect(ahead * chunk.readableBytes < 16 << 20, "\(ahead) messages sent to a client that read nothing")
            try await Task.sleep(for: .milliseconds(300))
            #expect(sent.value == ahead, "sending went on while the client read nothing")
            connection.closeWithReset()
            #expect(await eventually { failure.value != nil })
            #expect(failure.value == "\(WebSocketError.closed)")
        }
    }

    @Test func theSocketIsNotReadWhileTheHandlerTakesNoMessages() async throws {
        let reading = Box(false)
        let received = Box(0)
        let responder = Self.upgrading { ws in
            while !reading.value { try await Task.sleep(for: .milliseconds(20)) }
            for await _ in ws.messages { received.update { $0 += 1 } }
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await RawHTTPConnection.connect(to: server.address, timeout: 1)
            _ = try await connection.openWebSocket()
            let frame = RawFrame.binary([UInt8](repeating: 2, count: 64 * 1024)).encoded()
            var pushed = 0
            // Push until the send times out (1 s without room): the server stopped reading.
            while pushed < 4096 {
                do { try await connection.send(frame) } catch RawHTTPError.timedOut { break }
                pushed += 1
            }
            #expect(pushed < 4096)
            #expect(pushed * frame.count < 64 << 20, "the server took \(pushed) messages nobody asked for")
            reading.value = true
            let complete = pushed
            #expect(await eventually { received.value >= complete }, "\(received.value) of \(pushed) messages arrived")
        }
    }
}
