/// What a `Range` request header asks of a representation of `size` bytes, when it asks for one
/// byte range (RFC 9110 §14.1.2): `bytes=0-499`, `bytes=500-`, `bytes=-500`.
///
/// A pure value, parsed without any arithmetic that can overflow: positions are runs of ASCII
/// digits only (RFC 9110 has no sign, so `+5` and `-5` are not numbers here), and a number
/// too large for `Int` saturates, so `bytes=0-9223372036854775807` is the whole file and
/// `bytes=99999999999999999999-` is unsatisfiable. `static` routes answer with it: 206 for
/// `.satisfiable`, 416 for `.unsatisfiable`, and the whole file for nil (several ranges,
/// another unit, or a malformed header, which RFC 9110 lets a server ignore).
public enum ByteRange: Sendable, Hashable {
    /// The bytes to send: never empty, always within `0..<size`.
    case satisfiable(Range<Int>)
    /// A well-formed range that selects no byte of the representation (416).
    case unsatisfiable

    /// Parses `header`; nil for anything but one well-formed `bytes=` range.
    public init?(_ header: String, size: Int) {
        let size = max(0, size)
        var text = Substring(header)
        Self.trimSpaces(&text)
        // The unit is case-insensitive (RFC 9110 §14.1).
        guard text.utf8.count > 6, text.prefix(6).lowercased() == "bytes=" else { return nil }
        var spec = text.dropFirst(6)
        Self.trimSpaces(&spec)
        guard let dash = spec.utf8.firstIndex(of: UInt8(ascii: "-")) else { return nil }
        let first = spec[..<dash]
        let last = spec[spec.utf8.index(after: dash)...]
        if first.isEmpty {
            // `-N`: the last N bytes.
            guard let suffix = Self.position(last) else { return nil }
            guard suffix > 0, size > 0 else {
                self = .unsatisfiable
                return
            }
            self = .satisfiable((size - min(suffix, size))..<size)
            return
        }
        guard let start = Self.position(first) else { return nil }
        var end = Int.max  // inclusive
        if !last.isEmpty {
            guard let given = Self.position(last), given >= start else { return nil }
            end = given
        }
        guard start < size else {
            self = .unsatisfiable
            return
        }
        // `end` may be anything up to Int.max: clamp before turning it into an open bound.
        self = .satisfiable(start..<(min(end, size - 1) + 1))
    }

    /// A non-empty run of ASCII digits as a number, saturating at `Int.max`; nil for anything else.
    static func position(_ digits: Substring) -> Int? {
        guard !digits.isEmpty else { return nil }
        var value = 0
        for byte in digits.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            value = overflow1 || overflow2 ? Int.max : sum
        }
        return value
    }

    private static func trimSpaces(_ text: inout Substring) {
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
    }
}
