/// Where handlers run by default: the deploy-time choice of Gunicorn's `-k` (`--worker-class`).
///
/// - `async` (the default): on the connection's event loop. Thousands of connections per core;
///   a handler must not block its thread (only routes marked `blocking: true` may).
/// - `threads`: on the bounded thread pool (`--threads N`, Gunicorn's gthread worker), every
///   route that is not marked `blocking: false`. Blocking calls are safe everywhere; at most N
///   handlers run (or block) at once per process, and each hop to and from the pool costs a
///   few microseconds.
///
/// A route's own `blocking:` always wins over the worker class.
public enum WorkerClass: String, Sendable, CaseIterable, CustomStringConvertible {
    case async
    case threads

    public var description: String { self.rawValue }
}

extension Route {
    /// Whether this route's hooks and handler run on the thread pool under `workerClass`: its
    /// own `blocking:` if it says, else the worker class's default.
    public func runsOnThreadPool(_ workerClass: WorkerClass) -> Bool {
        self.blocking ?? (workerClass == .threads)
    }

    /// Where it runs, as the `routes` command says: `event loop` or `thread pool`, with the
    /// reason when the route says so itself.
    public func placement(_ workerClass: WorkerClass) -> String {
        let place = self.runsOnThreadPool(workerClass) ? "thread pool" : "event loop"
        guard let blocking = self.blocking else { return place }
        return "\(place) (blocking: \(blocking))"
    }
}
