import Synchronization

/// Tells long-lived responses that their server has begun to shut down (or a worker to
/// recycle), so they can end cleanly instead of holding the shutdown for its whole graceful
/// timeout: an event stream's or long poll's subscription finishes (`BroadcastHub` does this
/// by itself), its handler returns, and the body is terminated properly; `EventSource`
/// clients reconnect, to another worker.
///
/// The server sets `DrainSignal.current` for the task that answers each request and for the
/// task that produces a streamed body.
///
///     if let drain = DrainSignal.current {
///         let token = drain.onDrain { continuation.finish() }
///         defer { drain.cancel(token) }
///     }
public final class DrainSignal: Sendable {
    /// The signal of the server answering the current request; nil outside one.
    @TaskLocal public static var current: DrainSignal?

    private let state = Mutex<(draining: Bool, next: Int, callbacks: [Int: @Sendable () -> Void])>((false, 0, [:]))

    public init() {}

    /// True once the server has begun to drain.
    public var isDraining: Bool {
        self.state.withLock { $0.draining }
    }

    /// Runs `body` once when the server begins to drain (at once, and nil is returned, if it
    /// has). The token cancels it.
    @discardableResult
    public func onDrain(_ body: @escaping @Sendable () -> Void) -> Int? {
        let token = self.state.withLock { state -> Int? in
            guard !state.draining else { return nil }
            state.next += 1
            state.callbacks[state.next] = body
            return state.next
        }
        if token == nil { body() }
        return token
    }

    /// Forgets the callback registered with `token` (the stream ended by itself).
    public func cancel(_ token: Int?) {
        guard let token else { return }
        _ = self.state.withLock { $0.callbacks.removeValue(forKey: token) }
    }

    /// Begins the drain: every callback runs, once. Returns how many there were.
    @discardableResult
    public func drain() -> Int {
        let callbacks = self.state.withLock { state -> [@Sendable () -> Void] in
            guard !state.draining else { return [] }
            state.draining = true
            defer { state.callbacks = [:] }
            return Array(state.callbacks.values)
        }
        callbacks.forEach { $0() }
        return callbacks.count
    }

    /// Callbacks waiting (streams that will end when the drain begins).
    var waiting: Int {
        self.state.withLock { $0.callbacks.count }
    }
}
