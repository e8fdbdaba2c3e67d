import Foundation
import NIOCore
import Testing

@testable import CarafeHTTP

/// A WebSocket session handed over (`WebSocket.detach`) outlives its handler's task: frames
/// written to its stream reach the peer, the peer's messages reach `onMessage`, and pings and
/// the close handshake go on, over a real socket.
@Suite struct DetachedWebSocketTests {
    /// Every session is detached; the streams, the peer's texts and the handlers that returned.
    final class Sessions: Sendable {
        let streams = Box<[DetachedStream]>([])
        let received = Box<[String]>([])
        let returned = Box(0)

        var responder: ClosureResponder { self.responder() }

        func responder(_ options: WebSocketOptions = WebSocketOptions()) -> ClosureResponder {
            WebSocketTests.upgrading(options) { ws in
                let stream = await ws.detach { message in
                    if case .text(let text) = message { self.received.update { $0.append(text) } }
                }
                if let stream { self.streams.update { $0.append(stream) } }
                self.returned.update { $0 += 1 }
            }
        }

        /// The one session's stream, once its handler has returned.
        func stream() async throws -> DetachedStream {
            #expect(await eventually { self.returned.value == 1 })
            return try #require(self.streams.value.first)
        }
    }

    /// A text frame as the hub sends it: final, unmasked.
    static func frame(_ text: String) -> ByteBuffer {
        ByteBuffer(bytes: RawFrame.text(text).encoded(masked: false))
    }

    /// Whether `stream` ends within 5 s.
    static func ends(_ stream: DetachedStream) async -> Bool {
        for _ in 0..<250 {
            if (try? await stream.eventLoop.submit({ stream.isEnded }).get()) == true { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test func aDetachedSessionOutlivesItsHandlerAndCarriesMessagesBothWays() async throws {
        let sessions = Sessions()
        try await withTestServer(responder: sessions.responder) { server in
            let connection = try await server.connect()
            #expect(try await connection.openWebSocket().status == 101)
            let stream = try await sessions.stream()
            // The handler returned, yet the session is open: ready-made frames go out as they are.
            stream.eventLoop.execute { stream.write(Self.frame("from the hub")) }
            #expect(try await connection.readFrame() == .text("from the hub"))
            try await connection.send(.text("hi"))
            try await connection.send(.binary([1, 2, 3]))  // no `onMessage` case for it: dropped
            try await connection.send(.text("again"))
            #expect(await eventually { sessions.received.value == ["hi", "again"] })
            try await connection.send(.ping("still there?"))
            #expect(try await connection.readFrame() == RawFrame(opcode: 0xA, payload: Array("still there?".utf8)))
            // The peer closes: the server answers with its code, and the stream ends.
            try await connection.send(.close(4000, "bye"))
            #expect(try await connection.readClose().closeCode == 4000)
            #expect(try await connection.waitForClose(timeout: 5))
            #expect(await Self.ends(stream))
        }
    }

    @Test func aShutdownClosesADetachedSessionWith1001AndNothingFollowsTheCloseFrame() async throws {
        let sessions = Sessions()
        let server = try await TestServer.start(responder: sessions.responder)
        let connection = try await server.connect()
        _ = try await connection.openWebSocket()
        let stream = try await sessions.stream()
        let stopping = Task { await server.shutdown() }
        #expect(try await connection.readClose().closeCode == 1001)
        // The stream ended with the close frame: a late message from the hub is not sent after it.
        #expect(await Self.ends(stream))
        stream.eventLoop.execute { stream.write(Self.frame("too late")) }
        try await connection.send(.close(1001))
        #expect(try await connection.readUntilClose(timeout: 5).isEmpty)
        await stopping.value
    }

    @Test func fragmentsAreJoinedForOnMessageAndAMessageOverTheLimitStillCloses1009() async throws {
        let sessions = Sessions()
        try await withTestServer(responder: sessions.responder(WebSocketOptions(maxMessageSize: 16))) { server in
            let connection = try await server.connect()
            _ = try await connection.openWebSocket()
            let stream = try await sessions.stream()
            try await connection.send(.text("frag", fin: false))
            try await connection.send(.continuation("ment", fin: true))
            #expect(await eventually { sessions.received.value == ["fragment"] })
            try await connection.send(.text(String(repeating: "x", count: 17)))
            #expect(try await connection.readClose().closeCode == 1009)
            #expect(await Self.ends(stream))
            #expect(sessions.received.value == ["fragment"])
        }
    }

    @Test func aClientThatVanishesEndsTheDetachedStream() async throws {
        let sessions = Sessions()
        try await withTestServer(responder: sessions.responder) { server in
            let connection = try await server.connect()
            _ = try await connection.openWebSocket()
            let stream = try await sessions.stream()
            connection.closeWithReset()
            #expect(await Self.ends(stream))
        }
    }
}
