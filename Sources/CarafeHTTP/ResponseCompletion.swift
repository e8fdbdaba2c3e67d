import Synchronization

/// What a response amounted to once it has fully ended.
public struct ResponseSummary: Sendable, Equatable {
    /// Body bytes handed to the socket (for a WebSocket session: 0; its frames are not counted).
    public var bytes: Int
    /// From the request head's arrival to the response's end.
    public var duration: Duration
    /// False if the response was cut short: the client went away, a producer failed, the
    /// connection was closed by a timeout or at shutdown.
    public var complete: Bool

    public init(bytes: Int, duration: Duration, complete: Bool) {
        self.bytes = bytes
        self.duration = duration
        self.complete = complete
    }
}

/// Learns when a response has fully ended: `HTTPServerRequest.completion`.
///
/// A handler returns long before a streamed body or a WebSocket session ends; teardown work
/// (releasing a database connection held by the stream, an access-log line with the real byte
/// count) belongs here. Callbacks run once, on the connection's event loop when the server
/// finishes the response, at once if it already has; keep them short.
///
///     request.completion.whenFinished { summary in log.info("sent \(summary.bytes) bytes") }
///     let summary = await request.completion.finished
public final class ResponseCompletion: Sendable {
    private let state = Mutex<(summary: ResponseSummary?, callbacks: [@Sendable (ResponseSummary) -> Void])>((nil, []))

    public init() {}

    /// Runs `body` with the summary once the response has ended.
    public func whenFinished(_ body: @escaping @Sendable (ResponseSummary) -> Void) {
        let done = self.state.withLock { state -> ResponseSummary? in
            if state.summary == nil { state.callbacks.append(body) }
            return state.summary
        }
        if let done { body(done) }
    }

    /// The summary, once the response has ended.
    public var finished: ResponseSummary {
        get async {
            await withCheckedContinuation { continuation in
                self.whenFinished { continuation.resume(returning: $0) }
            }
        }
    }

    /// The summary if the response has ended, else nil.
    public var summary: ResponseSummary? {
        self.state.withLock { $0.summary }
    }

    /// Records the end (the first call counts) and runs the callbacks.
    public func finish(_ summary: ResponseSummary) {
        let callbacks = self.state.withLock { state -> [@Sendable (ResponseSummary) -> Void] in
            guard state.summary == nil else { return [] }
            state.summary = summary
            defer { state.callbacks = [] }
            return state.callbacks
        }
        callbacks.forEach { $0(summary) }
    }
}
