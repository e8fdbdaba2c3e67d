import CoreMetrics
import NIOCore
import Synchronization

/// What the framework records through swift-metrics, named as OpenTelemetry's HTTP semantic
/// conventions are written in Prometheus (`http.server.request.duration` →
/// `http_server_request_duration_seconds`). The backend is whatever the process bootstrapped
/// (`CarafeMetrics` bootstraps Prometheus for `serve --metrics-bind`); nothing is recorded
/// unless `App.recordsMetrics` is on, so an app without metrics pays nothing.
///
/// Labels are bounded: `http_route` is the route's pattern (`/users/:id`), never the raw path,
/// and `unmatched` for every request that matched no route; a method outside the standard
/// ones is `_OTHER`. A scan of random paths and methods therefore makes no new series.
public final class RequestMetrics: Sendable {
    /// The request-duration histogram's name; the others are in `docs/observability.md`.
    public static let durationLabel = "http_server_request_duration_seconds"
    /// The `http_route` of requests that matched no route.
    public static let unmatchedRoute = "unmatched"
    /// The histogram's buckets, in seconds: OpenTelemetry's advice for `http.server.request.duration`.
    public static let durationBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

    /// Requests being answered (a stream until it ends).
    let active = Meter(label: "http_server_active_requests")
    /// Connections open (set from the server before each report or scrape).
    let openConnections = Meter(label: "http_server_open_connections")
    /// Server-Sent Event streams open.
    let eventStreams = Meter(label: "http_server_open_sse_streams")
    /// WebSocket connections open.
    let webSockets = Meter(label: "http_server_open_websockets")
    /// Jobs waiting for a thread of the blocking pool (`blocking: true` routes, `--worker-class threads`).
    let blockingQueued = Meter(label: "carafe_blocking_pool_queued")
    /// Jobs running on the blocking pool.
    let blockingRunning = Meter(label: "carafe_blocking_pool_running")

    init() {}

    /// Sets the gauges that are read rather than counted.
    func refresh(from server: HTTPServer, pool: BlockingPool) {
        self.openConnections.set(server.openConnections)
        self.blockingQueued.set(pool.waiting)
        self.blockingRunning.set(pool.running)
    }

    /// The method as OpenTelemetry names it: a standard one, else `_OTHER` (bounded cardinality).
    static func methodLabel(_ method: HTTPMethod) -> String {
        switch method {
        case .GET: "GET"
        case .HEAD: "HEAD"
        case .POST: "POST"
        case .PUT: "PUT"
        case .DELETE: "DELETE"
        case .CONNECT: "CONNECT"
        case .OPTIONS: "OPTIONS"
        case .TRACE: "TRACE"
        case .PATCH: "PATCH"
        case .RAW(let value): ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"].contains(value) ? value : "_OTHER"
        default: "_OTHER"
        }
    }

    /// The histogram of each method, route and status seen, made once: asking swift-metrics'
    /// factory for a timer on every request (labels joined, its lock, its lookup) cost more than
    /// the recording (scripts/bench-observability, debug build: +8.2 % CPU per request with
    /// metrics before, +1.9 % after). Bounded as the labels are.
    private let timers = Mutex<[TimerKey: Timer]>([:])

    private struct TimerKey: Hashable {
        let method: String
        let route: String
        let status: UInt
    }

    /// Records one finished request.
    func record(method: HTTPMethod, route: String, status: UInt, duration: Duration) {
        let key = TimerKey(method: Self.methodLabel(method), route: route, status: status)
        let nanoseconds = TimeAmount(duration).nanoseconds
        let timer = self.timers.withLock { timers in
            if let timer = timers[key] { return timer }
            let timer = Timer(
                label: Self.durationLabel,
                dimensions: [
                    ("http_request_method", key.method), ("http_route", key.route), ("http_response_status_code", String(key.status)),
                ]
            )
            timers[key] = timer
            return timer
        }
        timer.recordNanoseconds(nanoseconds)
    }
}
