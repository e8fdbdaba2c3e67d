import NIOCore
import NIOWebSocket

/// The control side of one WebSocket connection (RFC 6455), as a value: the close handshake
/// (open; closing, with who began it and which code; closed), the ping this side sent and the
/// pong it waits for, and the pong it owes the peer. `WebSocketHandler` feeds it the frames
/// and timers and performs what it answers; the unit tests drive it without sockets.
///
/// - A close frame's payload is checked (section 5.5.1, 7.4): no 1-byte payload, a code an
///   endpoint may send (1000-1003, 1007-1014, 3000-4999; never 0-999, 1004-1006, 1015, 1016-2999),
///   a reason in UTF-8; anything else is a protocol error, answered with 1002.
/// - Pongs are matched to the ping sent by payload; an unsolicited pong is allowed (a
///   heartbeat) but does not answer ours.
/// - Only the latest unanswered ping is answered (section 5.5.3 allows it): while the socket
///   is full, a flood of pings leaves one pong owed, not one per ping.
struct WebSocketStateMachine {
    enum Side: Equatable {
        case server, client
    }

    enum State: Equatable {
        case open
        case closing(initiator: Side, code: WebSocketErrorCode)
        case closed
    }

    private(set) var state = State.open
    /// The payload of the ping this side sent and no pong answered yet.
    private(set) var pingOutstanding: ByteBuffer?
    /// The payload of the latest ping from the peer not answered yet (the socket was full).
    private(set) var pongOwed: ByteBuffer?
    private var pingsSent: UInt64 = 0

    // MARK: Close frames

    /// What a close frame's payload says, or why it is a protocol error.
    enum ClosePayload: Equatable {
        /// `code` nil: the frame had no payload (1005, "no status received", for the app).
        case valid(code: WebSocketErrorCode?, reason: String)
        case invalid(String)
    }

    static func parseClose(_ payload: ByteBuffer) -> ClosePayload {
        var payload = payload
        switch payload.readableBytes {
        case 0:
            return .valid(code: nil, reason: "")
        case 1:
            return .invalid("a close frame with a 1-byte payload")
        case 126...:
            return .invalid("a close frame over 125 bytes")
        default:
            let raw = payload.readInteger(as: UInt16.self)!
            guard Self.mayBeSent(raw) else { return .invalid("close code \(raw) is not one an endpoint may send") }
            guard let reason = String(validating: payload.readableBytesView, as: UTF8.self) else {
                return .invalid("close reason is not valid UTF-8")
            }
            return .valid(code: WebSocketErrorCode(codeNumber: Int(raw)), reason: reason)
        }
    }

    /// Codes an endpoint may put in a close frame (RFC 6455 7.4, and IANA's 1012-1014).
    static func mayBeSent(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    enum CloseReceivedAction: Equatable {
        /// The peer began: answer with `code` (its own, echoed), then close the socket.
        case answerAndHangUp(WebSocketErrorCode)
        /// The answer to our close: the handshake is complete; close the socket.
        case hangUp
        /// A malformed close: fail with 1002.
        case fail(String)
        /// Already closed: ignore.
        case none
    }

    /// The peer's close frame. `code` for the app is in `.valid`.
    mutating func receivedClose(_ payload: ClosePayload) -> CloseReceivedAction {
        guard case .valid(let code, _) = payload else {
            if case .invalid(let reason) = payload { return self.fail(.protocolError) ? .fail(reason) : .hangUp }
            return .none
        }
        switch self.state {
        case .open:
            let echo = code ?? .normalClosure
            self.state = .closed
            self.pingOutstanding = nil
            return .answerAndHangUp(echo)
        case .closing(.server, _):
            self.state = .closed
            return .hangUp
        case .closing(.client, _), .closed:
            return .none
        }
    }

    /// This side begins the close handshake with `code`: true to send the close frame (and
    /// arm the close timeout), false if a close was already sent or the connection is closed.
    mutating func closeRequested(_ code: WebSocketErrorCode) -> Bool {
        guard case .open = self.state else { return false }
        self.state = .closing(initiator: .server, code: code)
        self.pingOutstanding = nil
        return true
    }

    /// Fails the connection with `code` (RFC 6455 7.1.7): true to send a close frame first.
    mutating func fail(_ code: WebSocketErrorCode) -> Bool {
        defer { self.state = .closed }
        if case .open = self.state { return true }
        return false
    }

    /// The socket closed.
    mutating func channelClosed() {
        self.state = .closed
        self.pingOutstanding = nil
        self.pongOwed = nil
    }

    /// Messages may still be sent.
    var canSend: Bool { self.state == .open }

    // MARK: Pings and pongs

    enum PingReceivedAction: Equatable {
        case sendPong(ByteBuffer)
        /// The socket is full: the pong is owed, and only for the latest ping.
        case owe
        case none
    }

    mutating func receivedPing(_ payload: ByteBuffer, writable: Bool) -> PingReceivedAction {
        guard case .open = self.state else { return .none }
        if writable {
            self.pongOwed = nil
            return .sendPong(payload)
        }
        self.pongOwed = payload
        return .owe
    }

    /// The socket is writable again: the owed pong, if any, to send now.
    mutating func becameWritable() -> ByteBuffer? {
        defer { self.pongOwed = nil }
        guard case .open = self.state else { return nil }
        return self.pongOwed
    }

    /// A pong: true if it answers the ping this side sent.
    mutating func receivedPong(_ payload: ByteBuffer) -> Bool {
        guard let outstanding = self.pingOutstanding, outstanding == payload else { return false }
        self.pingOutstanding = nil
        return true
    }

    enum PingTimerAction: Equatable {
        case sendPing(ByteBuffer)
        /// No pong since the last ping: the peer or the path to it is gone; close.
        case peerGone
        case none
    }

    mutating func pingTimerFired() -> PingTimerAction {
        guard case .open = self.state else { return .none }
        if self.pingOutstanding != nil { return .peerGone }
        self.pingsSent += 1
        var payload = ByteBuffer()
        payload.writeInteger(self.pingsSent)
        self.pingOutstanding = payload
        return .sendPing(payload)
    }
}
