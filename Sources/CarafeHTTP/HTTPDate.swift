#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Formats times as the `Date` header wants them (IMF-fixdate, RFC 9110 §5.6.7), e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`, and caches the current second's string.
///
/// Not thread-safe: each event loop owns one cache.
final class HTTPDateCache {
    private var second: Int = -1
    private var cached: String = ""

    /// The `Date` header value for now.
    var now: String {
        let seconds = time(nil)
        if seconds != self.second {
            self.second = seconds
            self.cached = HTTPDate.format(seconds)
        }
        return self.cached
    }
}

/// Date formats of HTTP and of the Apache access log.
public enum HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for a count of seconds since 1970.
    public static func format(_ seconds: Int) -> String {
        let t = brokenDown(seconds)
        return "\(days[Int(t.tm_wday)]), \(pad2(t.tm_mday)) \(months[Int(t.tm_mon)]) \(t.tm_year + 1900) "
            + "\(pad2(t.tm_hour)):\(pad2(t.tm_min)):\(pad2(t.tm_sec)) GMT"
    }

    /// `10/Oct/2000:13:55:36 +0000`, the time of Apache's combined log format, in UTC.
    public static func formatCommonLog(_ seconds: Int) -> String {
        let t = brokenDown(seconds)
        return "\(pad2(t.tm_mday))/\(months[Int(t.tm_mon)])/\(t.tm_year + 1900):"
            + "\(pad2(t.tm_hour)):\(pad2(t.tm_min)):\(pad2(t.tm_sec)) +0000"
    }

    /// The seconds since 1970 of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); nil for
    /// anything else (the obsolete RFC 850 and asctime forms are not accepted).
    public static func parse(_ text: String) -> Int? {
        let fields = text.split(separator: " ")
        guard fields.count == 6, fields[0].hasSuffix(","), fields[5] == "GMT",
            let day = Int32(fields[1]), let month = months.firstIndex(of: String(fields[2])), let year = Int32(fields[3])
        else { return nil }
        let clock = fields[4].split(separator: ":").compactMap { Int32($0) }
        guard clock.count == 3 else { return nil }
        var t = tm()
        t.tm_year = year - 1900
        t.tm_mon = Int32(month)
        t.tm_mday = day
        t.tm_hour = clock[0]
        t.tm_min = clock[1]
        t.tm_sec = clock[2]
        return Int(timegm(&t))
    }

    private static func brokenDown(_ seconds: Int) -> tm {
        var t = tm()
        var s = time_t(seconds)
        gmtime_r(&s, &t)
        return t
    }

    private static func pad2(_ value: Int32) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
