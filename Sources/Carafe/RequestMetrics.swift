import CoreMetrics
import NIOPosix
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
    /// Blocking routes' calls waiting for a thread of the pool.
    let blockingQueued = Meter(label: "carafe_blocking_pool_queued")
    /// Blocking routes' calls running on the pool.
    let blockingRunning = Meter(label: "carafe_blocking_pool_running")

    private static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

    init() {}

    /// Sets the gauges that are read rather than counted.
    func refresh(from server: HTTPServer) {
        self.openConnections.set(server.openConnections)
    }

    /// Records one finished request.
    func record(method: HTTPMethod, route: String, status: UInt, duration: Duration) {
        let name = Self.methods.contains(method.rawValue) ? method.rawValue : "_OTHER"
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        Timer(
            label: Self.durationLabel,
            dimensions: [("http_request_method", name), ("http_route", route), ("http_response_status_code", String(status))]
        ).recordNanoseconds(nanoseconds)
    }

    /// Runs `body` on `pool`, counting it as queued, then running.
    func runBlocking<T: Sendable>(on pool: NIOThreadPool, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        self.blockingQueued.increment()
        let started = Mutex(false)
        defer { if !started.withLock({ $0 }) { self.blockingQueued.decrement() } }
        return try await pool.runIfActive {
            started.withLock { $0 = true }
            self.blockingQueued.decrement()
            self.blockingRunning.increment()
            defer { self.blockingRunning.decrement() }
            return try body()
        }
    }
}

extension AppServices {
    /// Runs a blocking route's `body` on the pool (counted when metrics are on).
    func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        guard let metrics = self.metrics else { return try await self.blockingPool.runIfActive(body) }
        return try await metrics.runBlocking(on: self.blockingPool, body)
    }
}
