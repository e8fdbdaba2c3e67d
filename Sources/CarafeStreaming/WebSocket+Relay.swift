import CarafeCore

extension WebSocket {
    /// Hands the rest of the session to `hub`: from now on every message published on `channel`
    /// goes to the peer as a text message, written by the hub itself, and the handler returns
    /// with the connection still open. What the peer sends goes to `onMessage`, called on the
    /// connection's event loop (keep it short and never block: publishing to the hub is fine),
    /// or is dropped without it.
    ///
    ///     app.websocket("/chat") { req, ws in
    ///         await ws.relay(hub, channel: "room") { message in
    ///             if case .text(let text) = message { hub.publish(text, on: "room") }
    ///         }
    ///     }
    ///
    /// No task waits for an idle subscriber: the request's handler, its task and the message
    /// queue are freed, and the hub encodes each message once for all its subscribers, with one
    /// hop per event loop. That is what lets one process hold tens of thousands of idle
    /// WebSocket subscribers at a few KiB each. The server still pings a quiet peer
    /// (`WebSocketOptions.pingInterval`) and runs the close handshake; the subscription ends
    /// when either side closes, when the peer reads too slowly for the hub's `policy`
    /// (`.disconnect` closes it; with `.dropOldest` it misses the oldest waiting messages), when
    /// the socket stays full for the server's write timeout, or when the server drains (close
    /// code 1001). The access log's line and the open-WebSockets gauge wait for the session's
    /// end; the teardown hooks run when the handler returns, as for a relayed event stream.
    ///
    /// Where the session cannot be handed over (it is already closing), it returns at once.
    public func relay(
        _ hub: BroadcastHub,
        channel: String,
        onMessage: (@Sendable (WebSocketMessage) -> Void)? = nil
    ) async {
        guard let stream = await self.detach(onMessage: onMessage) else { return }
        hub.subscribe(stream, to: channel, encoding: .webSocketText)
    }
}

extension BroadcastEncoding {
    /// A message as one WebSocket text frame from the server (final, unmasked).
    public static let webSocketText = BroadcastEncoding { WebSocketFrameBytes.text($0) }
}
