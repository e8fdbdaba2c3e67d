/// Whether a connection may read its socket now, and whether a `read()` was held back.
///
/// Two things close the gate: the consumer of what is read (a request body, WebSocket
/// messages) has enough for now, or the socket's send queue is over its high-water mark (a
/// client that sends but does not read, such as a pipelining client or a ping flood, must
/// not grow the server's outbound buffer without bound). A `read()` asked for while the gate
/// is closed is remembered and issued once both reasons are gone. Used by
/// `HTTPConnectionStateMachine` and `WebSocketStateMachine`: one mechanism for both.
struct ReadGate: Sendable, Equatable {
    /// The consumer does not want more for now.
    private(set) var consumerPaused = false
    /// The socket is not writable.
    private(set) var socketFull = false
    private var pending = false

    var isOpen: Bool { !self.consumerPaused && !self.socketFull }

    /// A `read()` came down the pipeline: true to pass it on now, false if it is held back.
    mutating func read() -> Bool {
        if self.isOpen { return true }
        self.pending = true
        return false
    }

    /// Returns true when a held-back `read()` should be issued now.
    mutating func setConsumerPaused(_ paused: Bool) -> Bool {
        self.consumerPaused = paused
        return self.releasePending()
    }

    /// Returns true when a held-back `read()` should be issued now.
    mutating func setSocketFull(_ full: Bool) -> Bool {
        self.socketFull = full
        return self.releasePending()
    }

    private mutating func releasePending() -> Bool {
        guard self.isOpen, self.pending else { return false }
        self.pending = false
        return true
    }
}
