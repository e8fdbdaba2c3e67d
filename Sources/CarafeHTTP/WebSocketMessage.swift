import NIOCore

/// A whole WebSocket message: the payloads of its fragments, joined.
public enum WebSocketMessage: Sendable, Equatable {
    /// A text message: valid UTF-8, as RFC 6455 requires (the connection closes with 1007
    /// otherwise).
    case text(String)
    case binary(ByteBuffer)
}
