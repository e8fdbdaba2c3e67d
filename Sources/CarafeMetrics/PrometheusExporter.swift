import Carafe
import CarafeSupervisor
import Metrics
import Prometheus
import Synchronization

/// The Prometheus backend of swift-metrics for `serve --metrics-bind HOST:PORT`:
///
///     import CarafeMetrics
///     app.metricsExporter = PrometheusExporter()
///
/// A single process serves its registry at `GET /metrics`. Under `--workers N`, each worker
/// records into its own registry and sends what changed with every heartbeat
/// (`WorkerMetricsReporter`); the master adds the reports up (`MetricsAggregate`) and serves
/// the sum with its own series (`MasterMetrics`), on a thread of its own, so the endpoint
/// answers while every worker is stuck. Metrics an app makes with swift-metrics (`Counter`,
/// `Timer`, `Meter`, …) are exported and summed the same way.
public struct PrometheusExporter: MetricsExporter {
    /// The registry this process records into.
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusMetricsFactory.defaultRegistry) {
        self.registry = registry
    }

    private static let bootstrapped = Atomic<Bool>(false)

    public func bootstrap() {
        guard !Self.bootstrapped.exchange(true, ordering: .relaxed) else { return }
        var factory = PrometheusMetricsFactory(registry: self.registry)
        factory.durationHistogramBuckets[RequestMetrics.durationLabel] = RequestMetrics.durationBuckets.map {
            Duration.nanoseconds(Int64(($0 * 1e9).rounded()))
        }
        MetricsSystem.bootstrap(factory)
    }

    public func serve(at address: BindAddress, logger: Logger, refresh: @escaping @Sendable () -> Void) async throws -> any MetricsEndpoint
    {
        let registry = self.registry
        return try await MetricsHTTPEndpoint.start(at: address, logger: logger) {
            refresh()
            return registry.emitToString()
        }
    }

    public func startWorker(logger: Logger) -> @Sendable () -> [UInt8] {
        let reporter = WorkerMetricsReporter(registry: self.registry)
        return { Array(reporter.report().utf8) }
    }

    public func startMaster(at address: BindAddress, logger: Logger) async throws -> any ArbiterObserver {
        let master = MasterMetrics()
        let endpoint = try await MetricsHTTPEndpoint.start(at: address, logger: logger) { master.exposition() }
        master.endpoint = endpoint
        return master
    }
}
