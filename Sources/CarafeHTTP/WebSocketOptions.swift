import NIOCore

/// Limits and timers of a WebSocket connection.
public struct WebSocketOptions: Sendable {
    /// The largest message accepted, after joining its fragments. A larger one closes the
    /// connection with 1009 (message too big), before it is buffered whole.
    public var maxMessageSize = 1 << 20
    /// How often the server pings an otherwise quiet peer, so proxies keep the connection open
    /// and a peer that vanished without a FIN is noticed: with no pong by the next ping, the
    /// connection closes. Nil sends no pings.
    public var pingInterval: TimeAmount? = .seconds(30)
    /// How long to wait for the peer's close frame after sending ours before closing the socket.
    public var closeTimeout: TimeAmount = .seconds(5)

    public init(maxMessageSize: Int = 1 << 20, pingInterval: TimeAmount? = .seconds(30), closeTimeout: TimeAmount = .seconds(5)) {
        self.maxMessageSize = maxMessageSize
        self.pingInterval = pingInterval
        self.closeTimeout = closeTimeout
    }
}
