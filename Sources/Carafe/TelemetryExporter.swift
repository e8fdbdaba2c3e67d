import ArgumentParser
import CarafeSupervisor
import Foundation
import Tracing

/// A telemetry backend that `serve --otlp-endpoint URL` (or OpenTelemetry's own
/// `OTEL_EXPORTER_OTLP_ENDPOINT`) starts: `CarafeOTel`'s `OTLPExporter` is one
/// (`app.telemetryExporter = OTLPExporter()`). The core only speaks swift-distributed-tracing
/// (and swift-metrics); the exporter makes the tracer that sends the spans somewhere.
///
/// It is started in every process that serves requests: a single process, or each worker under
/// `--workers` (spans are made where requests run; the master runs none), after the app's
/// settings are read and before it first serves, and stopped after the last connection closed,
/// so the spans of requests that finished during a graceful stop are still sent.
public protocol TelemetryExporter: Sendable {
    /// Starts exporting in this process; nil if the settings (or the environment, such as
    /// `OTEL_SDK_DISABLED=true`) turn everything off. A configuration that cannot work (a bad
    /// endpoint) throws, naming it: the start stops, as for any bad flag.
    func start(_ settings: TelemetrySettings, logger: Logger) throws -> (any TelemetrySession)?
}

/// What `serve` tells a `TelemetryExporter`.
public struct TelemetrySettings: Sendable {
    /// `--otlp-endpoint`: the collector's base URL (`http://collector:4318`), as
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` is, and winning over it; nil leaves it to the environment.
    public var endpoint: String?
    /// The service name unless `OTEL_SERVICE_NAME` says otherwise: the executable's name.
    public var serviceName: String
    /// Whether the exporter may be swift-metrics' backend too: false when `--metrics-bind` made
    /// the Prometheus exporter the backend (a process has one).
    public var exportsMetrics: Bool
    /// Resource attributes that say which process this is (`carafe.worker` under `--workers`,
    /// `process.pid`); `OTEL_RESOURCE_ATTRIBUTES` adds to them.
    public var resourceAttributes: [String: String]

    public init(endpoint: String?, serviceName: String, exportsMetrics: Bool, resourceAttributes: [String: String]) {
        self.endpoint = endpoint
        self.serviceName = serviceName
        self.exportsMetrics = exportsMetrics
        self.resourceAttributes = resourceAttributes
    }
}

/// A running telemetry exporter.
public protocol TelemetrySession: Sendable {
    /// The tracer of the app's request spans (`App.tracer`), nil if traces are not exported.
    var tracer: (any Tracer)? { get }
    /// Whether it made itself swift-metrics' backend: then the app records its metrics.
    var exportsMetrics: Bool { get }
    /// Sends what is still buffered (within the exporter's timeout) and stops.
    func shutdown() async
}

/// Where `App.telemetryExporter` is kept (`app.storage`).
private enum TelemetryExporterKey: StorageKey {
    typealias Value = any TelemetryExporter
}

extension App {
    /// The backend `serve --otlp-endpoint` starts (`CarafeOTel`'s `OTLPExporter`); nil: none.
    /// With one set, `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) in the
    /// environment starts it too, without the flag.
    public var telemetryExporter: (any TelemetryExporter)? {
        get { self.storage[TelemetryExporterKey.self] }
        set { self.storage[TelemetryExporterKey.self] = newValue }
    }
}

extension ServeOptions {
    /// `--otlp-endpoint`, checked: an `http://` or `https://` URL with a host; nil without the flag.
    func otlpEndpointValue() throws -> String? {
        guard let text = self.otlpEndpoint else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            throw ValidationError("--otlp-endpoint \(text): not an http:// or https:// URL with a host (for example http://127.0.0.1:4318)")
        }
        return text
    }
}

extension App {
    /// Whether this process exports telemetry: `--otlp-endpoint`, or OpenTelemetry's endpoint
    /// variables in the environment. An error if the flag is given to an app with no exporter
    /// (the variables alone are not: the app may bootstrap swift-otel itself).
    func telemetryIsWanted(_ options: ServeOptions) throws -> Bool {
        let environment = ProcessInfo.processInfo.environment
        let fromEnvironment = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].contains {
            environment[$0].map { !$0.isEmpty } ?? false
        }
        guard try options.otlpEndpointValue() != nil else { return fromEnvironment && self.telemetryExporter != nil }
        guard self.telemetryExporter != nil else {
            throw ValidationError(
                "--otlp-endpoint: this app has no telemetry exporter; add CarafeOTel and set app.telemetryExporter = OTLPExporter()"
            )
        }
        return true
    }

    /// Starts the app's telemetry exporter in this serving process when it is wanted, and
    /// makes its tracer the app's (unless the app set one) before the app first serves.
    func startTelemetry(_ options: ServeOptions, worker: WorkerContext?, metricsBound: Bool) throws -> (any TelemetrySession)? {
        guard try self.telemetryIsWanted(options), let exporter = self.telemetryExporter else { return nil }
        var attributes = ["process.pid": "\(getpid())"]
        if let worker { attributes["carafe.worker"] = "\(worker.number)" }
        let name = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "carafe"
        let settings = TelemetrySettings(
            endpoint: try options.otlpEndpointValue(),
            serviceName: name,
            exportsMetrics: !metricsBound,
            resourceAttributes: attributes
        )
        guard let session = try exporter.start(settings, logger: self.logger) else { return nil }
        if let tracer = session.tracer, self.tracer == nil { self.tracer = tracer }
        if session.exportsMetrics { self.recordsMetrics = true }
        return session
    }
}
