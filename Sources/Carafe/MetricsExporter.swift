import CarafeSupervisor

/// A metrics backend that `serve --metrics-bind HOST:PORT` starts: `CarafeMetrics`'
/// `PrometheusExporter` is one (`app.metricsExporter = PrometheusExporter()`). The framework
/// records through swift-metrics; the exporter bootstraps the backend and serves what it holds.
///
/// Under `--workers`, workers do not serve metrics: each sends what changed since its last
/// report with its heartbeat, and the master adds them up and serves them, so a counter never
/// goes back when a worker is replaced.
public protocol MetricsExporter: Sendable {
    /// Makes the backend swift-metrics' factory (`MetricsSystem.bootstrap`), once per process,
    /// before any metric is made; later calls do nothing.
    func bootstrap()
    /// A single process: serves `GET /metrics` at `address` until
    /// the endpoint is stopped. `refresh` sets the gauges that are read rather than counted
    /// (open connections); it is called before every scrape.
    func serve(at address: BindAddress, logger: Logger, refresh: @escaping @Sendable () -> Void) async throws -> any MetricsEndpoint
    /// A worker: the closure returned gives each heartbeat's report.
    func startWorker(logger: Logger) -> @Sendable () -> [UInt8]
    /// The master: serves the sum of its workers' reports, and its own series, at `address`;
    /// the master tells the observer returned what its workers do.
    func startMaster(at address: BindAddress, logger: Logger) async throws -> any ArbiterObserver
}

/// A running `/metrics` endpoint.
public protocol MetricsEndpoint: Sendable {
    func stop() async
}

/// Where `App.metricsExporter` is kept (`app.storage`).
private enum MetricsExporterKey: StorageKey {
    typealias Value = any MetricsExporter
}

extension App {
    /// The backend `serve --metrics-bind` starts (`CarafeMetrics`' `PrometheusExporter`); nil: none.
    public var metricsExporter: (any MetricsExporter)? {
        get { self.storage[MetricsExporterKey.self] }
        set { self.storage[MetricsExporterKey.self] = newValue }
    }
}
