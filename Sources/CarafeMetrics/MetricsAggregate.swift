/// The master's sum of its workers' reports (`WorkerMetricsReporter`): counters and histograms
/// are cumulative from the master's start (each report's increases are added, whichever worker
/// sent them, so a worker's crash, recycle or reload never takes anything back); gauges are
/// the sum of the live workers' last values (a worker's go when it exits). A pure value, so
/// it is tested without processes.
struct MetricsAggregate {
    private var types: [String: String] = [:]
    /// Families in the order first seen, and each one's series in the order first seen (which
    /// keeps a histogram's buckets in order).
    private var families: [String] = []
    private var series: [String: [String]] = [:]
    private var known: Set<String> = []
    private var cumulative: [String: Double] = [:]
    private var gauges: [Int: [String: Double]] = [:]

    /// Applies worker `worker`'s report.
    mutating func apply(_ report: String, from worker: Int) {
        var type = ""
        var family = ""
        var workerGauges: [String: Double] = [:]
        for line in PrometheusText.lines(report[...]) {
            switch line {
            case .type(let name, let kind):
                (family, type) = (name, kind)
                if self.types[name] == nil {
                    self.types[name] = kind
                    self.families.append(name)
                }
            case .sample(let name, let value):
                guard !family.isEmpty, PrometheusText.name(of: name).hasPrefix(family) else { continue }
                if self.known.insert(name).inserted { self.series[family, default: []].append(name) }
                if type == "counter" || type == "histogram" {
                    self.cumulative[name, default: 0] += value
                } else {
                    workerGauges[name] = value
                }
            }
        }
        self.gauges[worker] = workerGauges
    }

    /// Forgets worker `worker`'s gauges: it exited.
    mutating func remove(worker: Int) {
        self.gauges[worker] = nil
    }

    /// The Prometheus text of the sum.
    func render() -> String {
        var out = ""
        for family in self.families {
            let type = self.types[family] ?? "untyped"
            out += "# TYPE \(family) \(type)\n"
            for name in self.series[family] ?? [] {
                let value: Double
                if type == "counter" || type == "histogram" {
                    value = self.cumulative[name] ?? 0
                } else {
                    value = self.gauges.values.reduce(0) { $0 + ($1[name] ?? 0) }
                }
                out += "\(name) \(PrometheusText.format(value))\n"
            }
        }
        return out
    }
}
