import Carafe
import CoreMetrics
import Foundation
import OTel
import ServiceLifecycle
import Tracing

/// Exports the app's request spans (with their database children) and, unless `--metrics-bind`
/// serves Prometheus, its metrics, to an OpenTelemetry collector over OTLP/HTTP, through
/// swift-otel. Set it on the app; `serve --otlp-endpoint URL` (or `OTEL_EXPORTER_OTLP_ENDPOINT`)
/// then starts it in each process that serves:
///
///     import Carafe
///     import CarafeOTel
///
///     let app = App()
///     app.telemetryExporter = OTLPExporter()
///     // $ myapp serve --otlp-endpoint http://otel-collector:4318
///
/// Everything else is configured as OpenTelemetry spells it, in the environment, read by
/// swift-otel: `OTEL_SERVICE_NAME` (default: the executable's name), `OTEL_RESOURCE_ATTRIBUTES`,
/// `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, the default, or `http/json`),
/// `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_TRACES_SAMPLER`,
/// `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_METRICS_EXPORTER=none`, `OTEL_METRIC_EXPORT_INTERVAL`,
/// `OTEL_SDK_DISABLED=true`… `--otlp-endpoint` wins over `OTEL_EXPORTER_OTLP_ENDPOINT` (a
/// command-line flag is the most specific source), and, as that variable, is a base URL: the
/// spans go to `URL/v1/traces`, the metrics to `URL/v1/metrics`.
///
/// Spans are batched (swift-otel's batch span processor) and sent off the event loops; on a
/// graceful stop the spans still buffered are sent before the process exits. Logs are not
/// exported (the app's log stays where `--error-logfile` sends it); swift-otel's own messages
/// (an unreachable collector) go to the app's log.
///
/// OTLP/gRPC is not built in: the package enables swift-otel's `OTLPHTTP` trait only, as the
/// gRPC stack takes minutes to build. Every collector (the OpenTelemetry Collector, Jaeger,
/// Tempo, Grafana Alloy) listens for OTLP/HTTP on 4318.
public struct OTLPExporter: TelemetryExporter {
    /// swift-otel's configuration before the environment and `serve`'s settings are applied:
    /// start from `.default` to change what no variable covers (histogram buckets, say).
    public var configuration: OTel.Configuration
    /// How long a stop waits for the last spans to be sent: past it (a collector that is down
    /// or does not answer) they are dropped, with a warning, so a stop never waits for the
    /// exporter's own timeouts (30 s by default).
    public var shutdownTimeout: Duration

    public init(configuration: OTel.Configuration = .default, shutdownTimeout: Duration = .seconds(5)) {
        self.configuration = configuration
        self.shutdownTimeout = shutdownTimeout
    }

    public func start(_ settings: TelemetrySettings, logger: Logger) throws -> (any TelemetrySession)? {
        var environment = ProcessInfo.processInfo.environment
        if ["true", "1"].contains(environment["OTEL_SDK_DISABLED"]?.lowercased()) {
            logger.notice("OpenTelemetry: OTEL_SDK_DISABLED is set; exporting nothing")
            return nil
        }
        guard InstrumentationSystem.instrument is NoOpInstrument || InstrumentationSystem.instrument is NoOpTracer else {
            throw TelemetryError(
                "the program bootstrapped InstrumentationSystem itself; drop that bootstrap or app.telemetryExporter (both would export the spans)"
            )
        }
        // swift-otel stops the process (a fatal error) when asked for gRPC without its trait.
        for key in ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] {
            if let value = environment[key], value.lowercased() == "grpc" {
                throw TelemetryError(
                    "\(key)=grpc: this build exports over OTLP/HTTP only (swift-otel's OTLPHTTP trait); use http/protobuf (the default) or http/json, and the collector's OTLP/HTTP port (4318)"
                )
            }
        }
        if let endpoint = settings.endpoint { environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint }
        var configuration = self.configuration
        configuration.serviceName = settings.serviceName
        configuration.resourceAttributes.merge(settings.resourceAttributes) { mine, _ in mine }
        configuration.diagnosticLogger = .custom(logger)
        // Its warnings and errors (a collector that does not answer); OTEL_LOG_LEVEL for more.
        configuration.diagnosticLogLevel = .warning
        configuration.logs.enabled = false
        // One metrics backend per process: not when Prometheus (--metrics-bind) or the program has it.
        let metrics =
            configuration.metrics.enabled && settings.exportsMetrics && MetricsSystem.factory is NOOPMetricsHandler
            && environment["OTEL_METRICS_EXPORTER"]?.lowercased() != "none"
        configuration.metrics.enabled = metrics
        let service: any Service
        do {
            service = try OTel.bootstrap(configuration: configuration, environment: environment)
        } catch {
            throw TelemetryError("\(error)")
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [.init(service: service)], logger: logger)
        )
        let running = Task { try await group.run() }
        logger.info(
            "OpenTelemetry: exporting spans\(metrics ? " and metrics" : "") over OTLP to \(Self.describe(environment)) as service \(environment["OTEL_SERVICE_NAME"] ?? settings.serviceName)"
        )
        return OTLPSession(
            group: group,
            running: running,
            tracer: InstrumentationSystem.tracer,
            exportsMetrics: metrics,
            timeout: self.shutdownTimeout,
            logger: logger
        )
    }

    /// Where the spans go, for the start-up line.
    private static func describe(_ environment: [String: String]) -> String {
        if let traces = environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], !traces.isEmpty { return traces }
        if let base = environment["OTEL_EXPORTER_OTLP_ENDPOINT"], !base.isEmpty { return base }
        return "http://localhost:4318 (the default)"
    }
}

/// A telemetry configuration that cannot work; `serve` stops with it.
public struct TelemetryError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = "OpenTelemetry: \(description)" }
}

/// swift-otel's background work (batching, exporting), running until the server stops.
final class OTLPSession: TelemetrySession {
    let group: ServiceGroup
    let running: Task<Void, any Error>
    let tracer: (any Tracer)?
    let exportsMetrics: Bool
    let timeout: Duration
    let logger: Logger

    init(
        group: ServiceGroup,
        running: Task<Void, any Error>,
        tracer: any Tracer,
        exportsMetrics: Bool,
        timeout: Duration,
        logger: Logger
    ) {
        self.group = group
        self.running = running
        self.tracer = tracer
        self.exportsMetrics = exportsMetrics
        self.timeout = timeout
        self.logger = logger
    }

    /// A graceful shutdown of swift-otel's services: the batch processor sends what it holds,
    /// the metrics reader its last export; cancelled past `timeout`.
    func shutdown() async {
        await self.group.triggerGracefulShutdown()
        let running = self.running
        let timeout = self.timeout
        let inTime = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                _ = await running.result
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                if Task.isCancelled { return true }
                running.cancel()  // lets the first child return too
                return false
            }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
        if !inTime {
            self.logger.warning("OpenTelemetry: the last spans were not sent within \(timeout) (the collector did not answer); dropped them")
        }
    }
}
