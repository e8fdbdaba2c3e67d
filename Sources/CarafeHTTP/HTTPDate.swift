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
    ///
    /// Strict, and free of arithmetic that can overflow: each field must have the digits
    /// IMF-fixdate gives it (`2DIGIT` day, `4DIGIT` year, `2DIGIT` hour, minute and second) and
    /// be in range, so a hostile `If-Modified-Since` (a year of `-2147483648`, say) is nil,
    /// which a conditional request treats as absent.
    public static func parse(_ text: String) -> Int? {
        let fields = text.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 6, fields[0].count == 4, fields[0].hasSuffix(","), days.contains(String(fields[0].dropLast())),
            fields[5] == "GMT",
            let day = digits(fields[1], count: 2), (1...31).contains(day),
            let month = months.firstIndex(of: String(fields[2])),
            let year = digits(fields[3], count: 4)
        else { return nil }
        let clock = fields[4].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, let hour = digits(clock[0], count: 2), let minute = digits(clock[1], count: 2),
            let second = digits(clock[2], count: 2), hour < 24, minute < 60, second <= 60
        else { return nil }
        return daysSince1970(year: year, month: month + 1, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// Exactly `count` ASCII digits as a number; nil for anything else.
    private static func digits(_ text: Substring, count: Int) -> Int? {
        guard text.utf8.count == count else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
    /// `days_from_civil`); a day past the month's end (`31 Feb`) rolls over, as `timegm` does.
    static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
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
