import NIOCore

/// Writers (a streamed body's producer, a WebSocket's `send`) waiting for the socket's send
/// queue to drain below its high-water mark: each write's promise succeeds at once while the
/// channel is writable, else when it becomes writable again, and fails when the connection
/// closes. One mechanism for HTTP responses and WebSocket messages.
struct WritabilityWaiters {
    private var waiters: [EventLoopPromise<Void>] = []

    /// After a write: `promise` succeeds now if the channel can take more, else later.
    mutating func wait(_ promise: EventLoopPromise<Void>, writable: Bool) {
        if writable {
            promise.succeed()
        } else {
            self.waiters.append(promise)
        }
    }

    /// Removes and returns the waiting writers, for a caller whose resuming may make a writer
    /// wait again at once (an answer that delivers the next pipelined request): resuming them
    /// inside `resumeAll()` would modify the list while it is being accessed.
    mutating func takeAll() -> [EventLoopPromise<Void>] {
        defer { self.waiters = [] }
        return self.waiters
    }

    /// The channel is writable again: every waiting writer goes on.
    mutating func resumeAll() {
        let waiters = self.waiters
        self.waiters = []
        waiters.forEach { $0.succeed() }
    }

    /// The connection is gone: every waiting writer throws `error`.
    mutating func failAll(_ error: any Error) {
        let waiters = self.waiters
        self.waiters = []
        waiters.forEach { $0.fail(error) }
    }
}
