import Foundation

/// How the pages write counts and times for people: "1 post", "3 followers", "5 minutes ago".
enum Formatting {
    /// `count` and the noun, plural unless it is one: "1 post", "0 posts", "2 followers".
    static func count(_ count: Int, _ singular: String, plural: String? = nil) -> String {
        "\(count) \(count == 1 ? singular : plural ?? singular + "s")"
    }

    /// A size for people: "900 bytes", "1.5 MiB", "1 MiB", "512 KiB".
    static func bytes(_ count: Int) -> String {
        func number(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
        }
        if count >= 1 << 20 { return "\(number(Double(count) / Double(1 << 20))) MiB" }
        if count >= 1 << 10 { return "\(number(Double(count) / Double(1 << 10))) KiB" }
        return Self.count(count, "byte")
    }

    /// How long before `now` `date` was: "just now", "1 minute ago", "3 hours ago", "2 days
    /// ago"; past a week, the date: "5 Mar 2026" (UTC).
    static func ago(_ date: Date, now: Date = Date()) -> String {
        let seconds = Int(now.timeIntervalSince(date))
        switch seconds {
        case ..<45: return "just now"
        case ..<3600: return Self.count(max(1, (seconds + 30) / 60), "minute") + " ago"
        case ..<86_400: return Self.count(seconds / 3600, "hour") + " ago"
        case ..<(7 * 86_400): return Self.count(seconds / 86_400, "day") + " ago"
        default:
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let parts = calendar.dateComponents([.day, .month, .year], from: date)
            return "\(parts.day ?? 1) \(Self.months[(parts.month ?? 1) - 1]) \(parts.year ?? 1970)"
        }
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
