import Prometheus
import Synchronization

/// A worker's side of the aggregation: on each heartbeat, what changed in its registry since
/// the last report, as Prometheus text in which a counter's or histogram's sample is the
/// increase since the last report (only those that grew) and a gauge's is its value (all of
/// them). The master adds increases to its cumulative series, so a worker that dies loses at
/// most what it counted since its last beat, and nothing already counted goes back.
final class WorkerMetricsReporter: Sendable {
    private let registry: PrometheusCollectorRegistry
    /// The cumulative value of every counter-like sample as last reported.
    private let reported = Mutex<[String: Double]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func report() -> String {
        Self.delta(of: self.registry.emitToString(), since: self.reported)
    }

    /// `text` (a registry's exposition) as a report against `reported`, which it updates.
    static func delta(of text: String, since reported: borrowing Mutex<[String: Double]>) -> String {
        reported.withLock { reported in
            var out = ""
            var type = ""
            var family = ""
            for line in PrometheusText.lines(text[...]) {
                switch line {
                case .type(let name, let kind):
                    (family, type) = (name, kind)
                    out += "# TYPE \(name) \(kind)\n"
                case .sample(let series, let value):
                    guard PrometheusText.name(of: series).hasPrefix(family), type == "counter" || type == "histogram" else {
                        out += "\(series) \(PrometheusText.format(value))\n"  // a gauge: its value
                        continue
                    }
                    let increase = value - (reported[series] ?? 0)
                    reported[series] = value
                    if increase != 0 { out += "\(series) \(PrometheusText.format(increase))\n" }
                }
            }
            return out
        }
    }
}
