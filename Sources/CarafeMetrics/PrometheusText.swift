/// The parts of the Prometheus text format that reports and the aggregate need: `# TYPE`
/// lines and samples (`series value`, where the series is the name with its labels as
/// written). swift-prometheus writes what is read here; `# HELP` and other comments are skipped.
enum PrometheusText {
    enum Line: Equatable {
        case type(family: String, type: String)
        case sample(series: String, value: Double)
    }

    static func lines(_ text: Substring) -> [Line] {
        text.split(separator: "\n").compactMap { line -> Line? in
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2 else { return nil }
                return .type(family: String(parts[0]), type: String(parts[1]))
            }
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Self.value(line[line.index(after: space)...])
            else {
                return nil
            }
            return .sample(series: String(line[..<space]), value: value)
        }
    }

    static func value(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
    }

    /// A value as Prometheus reads it: whole numbers without a fraction.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// The metric name of a series: what comes before its labels.
    static func name(of series: String) -> Substring {
        series.firstIndex(of: "{").map { series[..<$0] } ?? series[...]
    }
}
