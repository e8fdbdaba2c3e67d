import NIOCore

/// What a long-lived stream does with messages while its client reads slowly: a pure state
/// type (messages and writability in, actions out), so the policy is tested without sockets.
///
/// While the socket takes more (NIO's channel is writable) and nothing is queued, a message is
/// written at once. Otherwise it waits here, at most `limit` messages; past that, `policy`
/// decides: `.dropOldest` loses the oldest waiting message (the client misses it, the
/// connection stays), `.close` ends the stream (an `EventSource` reconnects and resumes from
/// its `Last-Event-ID`). Either way a client that never reads holds at most `limit` messages
/// plus the socket's send buffer, and never delays the other subscribers of a broadcast.
/// What a long-lived stream does once `limit` messages wait for a slow client.
public enum SlowConsumerPolicy: Sendable, Equatable {
    /// The oldest waiting message is dropped; the connection stays.
    case dropOldest
    /// The stream ends and its connection closes.
    case close
}

struct SlowConsumerQueue<Message> {
    typealias Policy = SlowConsumerPolicy

    enum Action {
        /// Write this message now.
        case write(Message)
        /// It waits until the socket drains.
        case queued
        /// It waits; the oldest waiting message was dropped to make room.
        case droppedOldest
        /// The queue is full and the policy is `.close`: end the stream.
        case close
    }

    let limit: Int
    let policy: Policy
    /// The messages waiting for the socket to drain; no storage until one has to wait, so an
    /// idle stream whose client keeps up holds none.
    private(set) var waiting: CircularBuffer<Message>?
    /// Messages dropped so far under `.dropOldest`.
    private(set) var dropped = 0

    init(limit: Int, policy: Policy) {
        precondition(limit > 0, "a stream's queue must hold at least one message")
        self.limit = limit
        self.policy = policy
    }

    /// A message to send; `writable`: whether the socket takes more now.
    mutating func offer(_ message: Message, writable: Bool) -> Action {
        let count = self.waiting?.count ?? 0
        if writable && count == 0 { return .write(message) }
        if count < self.limit {
            if self.waiting == nil { self.waiting = CircularBuffer(initialCapacity: 4) }
            self.waiting!.append(message)
            return .queued
        }
        switch self.policy {
        case .dropOldest:
            self.waiting!.removeFirst()
            self.waiting!.append(message)
            self.dropped += 1
            return .droppedOldest
        case .close:
            return .close
        }
    }

    /// The socket drained: the waiting messages to write now, oldest first.
    mutating func drain() -> CircularBuffer<Message> {
        defer { self.waiting = nil }
        return self.waiting ?? []
    }
}
