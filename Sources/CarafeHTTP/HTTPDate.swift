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
