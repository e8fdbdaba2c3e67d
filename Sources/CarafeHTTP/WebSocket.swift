import NIOCore
import NIOWebSocket
import Synchronization

/// One WebSocket connection, as its handler sees it: the messages that arrive, and a way to
/// send and to close.
///
///     for await message in ws.messages {
///         try await ws.send(message)      // echo
///     }
///
/// `messages` ends when the peer closes (its code is then in `closeCode`), when the connection
/// fails or when the server shuts down; iterate it once. While the handler does not take the
/// next message, the server stops reading the socket. `send` suspends while the socket's send
/// queue is full and throws `WebSocketError.closed` once the connection is closing. When the
/// handler returns, the server closes the connection with 1000 (normal closure), or 1011 if
/// it threw, unless it handed the session over (`detach`, `relay` in CarafeStreaming).
public final class WebSocket: Sendable {
    /// The messages from the peer, whole (fragments joined), in order.
    public let messages: WebSocketMessages
    private let handler: NIOLoopBound<WebSocketHandler>
    private let peerClose: CloseCodeCell
    private let detached = Atomic<Bool>(false)

    init(messages: WebSocketMessages, handler: NIOLoopBound<WebSocketHandler>, peerClose: CloseCodeCell) {
        self.messages = messages
        self.handler = handler
        self.peerClose = peerClose
    }

    /// The code of the peer's close frame, once it came (1005 when the frame had none); nil
    /// while open or when the connection ended without one.
    public var closeCode: WebSocketErrorCode? {
        self.peerClose.code
    }

    /// Sends one message; returns once the socket can take more.
    public func send(_ message: WebSocketMessage) async throws {
        let loop = self.handler.eventLoop
        let promise = loop.makePromise(of: Void.self)
        loop.executeInline { [handler] in handler.value.send(message, promise: promise) }
        try await promise.futureResult.get()
    }

    /// Sends a text message.
    public func send(_ text: String) async throws {
        try await self.send(.text(text))
    }

    /// Hands the session over to whoever holds the returned stream, to write ready-made frames
    /// to (a `BroadcastHub`: `relay` in CarafeStreaming), and lets the handler return without
    /// closing: the connection goes on with no task, which is what lets a process hold tens of
    /// thousands of idle subscribers. `messages` ends; each message the peer sends from now on
    /// goes to `onMessage`, called on the connection's event loop (keep it short, never block:
    /// publish it to a hub, say), or is dropped without it. Pings, pongs and the close
    /// handshake go on as before; the stream ends when a close frame goes out or the
    /// connection ends. Nil when the session is already closing.
    public func detach(onMessage: (@Sendable (WebSocketMessage) -> Void)? = nil) async -> DetachedStream? {
        let stream = try? await self.handler.eventLoop.submit { [handler] in
            handler.value.detach(onMessage: onMessage)
        }.get()
        guard let stream = stream ?? nil else { return nil }
        self.detached.store(true, ordering: .relaxed)
        return stream
    }

    /// Whether the session was handed over (`detach`).
    var isDetached: Bool { self.detached.load(ordering: .relaxed) }

    /// Starts the close handshake with `code`: no more messages go out; `messages` ends once
    /// the peer answers (or after `WebSocketOptions.closeTimeout`). Does nothing once closing.
    public func close(_ code: WebSocketErrorCode = .normalClosure, reason: String = "") {
        self.handler.eventLoop.executeInline { [handler] in handler.value.close(code, reason: reason) }
    }
}

/// The messages of a `WebSocket`, as they arrive; iterate once.
public struct WebSocketMessages: AsyncSequence, Sendable {
    public typealias Element = WebSocketMessage
    public typealias Failure = Never

    private let producer: WebSocketHandler.Producer

    init(_ producer: WebSocketHandler.Producer) {
        self.producer = producer
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(self.producer.makeAsyncIterator())
    }

    public struct Iterator: AsyncIteratorProtocol {
        private var inner: WebSocketHandler.Producer.AsyncIterator

        init(_ inner: WebSocketHandler.Producer.AsyncIterator) {
            self.inner = inner
        }

        public mutating func next() async -> WebSocketMessage? {
            await self.inner.next()
        }
    }
}

/// A close code, written on the connection's loop and read from the handler's task.
final class CloseCodeCell: Sendable {
    private let raw = Atomic<UInt16>(0)

    var code: WebSocketErrorCode? {
        let raw = self.raw.load(ordering: .acquiring)
        return raw == 0 ? nil : WebSocketErrorCode(codeNumber: Int(raw))
    }

    func set(_ code: WebSocketErrorCode) {
        self.raw.store(UInt16(webSocketErrorCode: code), ordering: .releasing)
    }
}
