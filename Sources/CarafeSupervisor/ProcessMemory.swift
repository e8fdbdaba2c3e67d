#if canImport(Glibc)
import Glibc
#endif

/// A process's memory as Linux reports it in `/proc`, for `--max-worker-memory` and the
/// master's per-worker memory gauge.
public enum ProcessMemory {
    /// Resident memory in bytes, from `/proc/PID/statm` (its second field, in pages); nil if
    /// the process is gone.
    public static func resident(of pid: Int32) -> Int? {
        let fd = open("/proc/\(pid)/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return nil }
        let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// `bytes` for a log line: `212.4 MiB`.
    public static func describe(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }

    /// Parses a size: bytes (`1048576`), or a number with a unit, `K`/`KB`/`KiB`, `M`, `G`
    /// (powers of 1024, as `ps` and Gunicorn's users mean them): `512M`, `1.5GiB`.
    public static func parseSize(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces.uppercased()
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, let number = Double(digits), number >= 0 else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingSpaces
        let multipliers: [String: Double] = [
            "": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": 1_048_576, "MB": 1_048_576, "MIB": 1_048_576,
            "G": 1_073_741_824, "GB": 1_073_741_824, "GIB": 1_073_741_824,
        ]
        guard let multiplier = multipliers[unit] else { return nil }
        let bytes = number * multiplier
        guard bytes >= 1, bytes < Double(Int.max) else { return nil }
        return Int(bytes)
    }

    /// Parses a duration: seconds (`3600`), or a number with `s`, `m`, `h` or `d`: `90s`, `12h`.
    public static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingSpaces.lowercased()
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, let number = Double(digits), number > 0 else { return nil }
        let multipliers: [String: Double] = ["": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400]
        guard let multiplier = multipliers[String(trimmed.dropFirst(digits.count)).trimmingSpaces] else { return nil }
        return .milliseconds(Int64(number * multiplier * 1000))
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
