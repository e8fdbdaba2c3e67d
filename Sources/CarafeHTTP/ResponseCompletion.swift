import NIOHTTP1
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
    /// The status the server wrote, nil if it wrote no head. It can differ from the one the
    /// responder answered: the server's own 503 for a handler past its deadline, the `200`
    /// that opens a WebSocket over HTTP/2, a 400 in place of a 2xx to a WebSocket's extended
    /// CONNECT. The access log and the metrics report this one.
    public var status: HTTPResponseStatus?

    public init(bytes: Int, duration: Duration, complete: Bool, status: HTTPResponseStatus? = nil) {
        self.bytes = bytes
        self.duration = duration
        self.complete = complete
        self.status = status
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
    /// The summary once known, and the callbacks waiting for it: the first one apart, as most
    /// responses have one (the access log and the metrics share it), so no array is allocated
    /// per request for it.
    private struct State {
        var summary: ResponseSummary?
        var first: (@Sendable (ResponseSummary) -> Void)?
        var more: [@Sendable (ResponseSummary) -> Void] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Runs `body` with the summary once the response has ended.
    public func whenFinished(_ body: @escaping @Sendable (ResponseSummary) -> Void) {
        let done = self.state.withLock { state -> ResponseSummary? in
            if state.summary == nil {
                if state.first == nil { state.first = body } else { state.more.append(body) }
            }
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
        let (first, more) = self.state.withLock {
            state -> ((@Sendable (ResponseSummary) -> Void)?, [@Sendable (ResponseSummary) -> Void]) in
            guard state.summary == nil else { return (nil, []) }
            state.summary = summary
            defer {
                state.first = nil
                state.more = []
            }
            return (state.first, state.more)
        }
        first?(summary)
        more.forEach { $0(summary) }
    }
}
