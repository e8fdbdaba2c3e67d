/// Parsing and building of `application/x-www-form-urlencoded` text (HTML forms and URL query strings).
enum URLEncodedForm {
    /// Splits `text` on `&` into name/value pairs, in order.
    ///
    /// `+` means a space and percent-escapes are decoded as UTF-8. A pair without `=` has an empty
    /// value (`flag` → `("flag", "")`), and empty pairs (`a=1&&b=2`) are skipped. A name or value
    /// with an invalid escape (`%zz`, `%4`, or bytes that are not UTF-8) is kept as written, with
    /// only `+` turned into a space.
    static func parse<S: StringProtocol>(_ text: S) -> [(name: String, value: String)] {
        text.split(separator: "&").map { pair in
            guard let equals = pair.firstIndex(of: "=") else {
                return (decodeLeniently(pair), "")
            }
            return (decodeLeniently(pair[..<equals]), decodeLeniently(pair[pair.index(after: equals)...]))
        }
    }

    /// Percent-decodes `text`, turning `+` into a space when `plusAsSpace` is true.
    ///
    /// Returns nil if an escape is malformed (`%zz`, a trailing `%4`) or the decoded bytes are not valid UTF-8.
    static func percentDecode<S: StringProtocol>(_ text: S, plusAsSpace: Bool) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var input = text.utf8.makeIterator()
        while let byte = input.next() {
            switch byte {
            case UInt8(ascii: "+") where plusAsSpace:
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = input.next().flatMap(hexValue), let low = input.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Builds `a=1&b=x+y` from pairs, in order.
    ///
    /// Everything but the unreserved characters (ALPHA DIGIT `-` `.` `_` `~`) is percent-escaped as
    /// UTF-8, except the space, which becomes `+`.
    static func serialize(_ pairs: [(name: String, value: String)]) -> String {
        pairs.map {
            escape($0.name, spaceAsPlus: true, keeping: isUnreserved)
                + "=" + escape($0.value, spaceAsPlus: true, keeping: isUnreserved)
        }.joined(separator: "&")
    }

    /// Escapes one URL path segment.
    ///
    /// Unreserved characters, sub-delimiters (`! $ & ' ( ) * + , ; =`), `:` and `@` are kept;
    /// everything else, including `/`, `?`, `#`, `%` and the space, is percent-escaped as UTF-8.
    static func escapePathSegment(_ segment: String) -> String {
        escape(segment, spaceAsPlus: false) { byte in
            isUnreserved(byte) || "!$&'()*+,;=:@".utf8.contains(byte)
        }
    }

    /// Percent-decodes a name or value from a form, keeping it as written (but with `+` as a space) if it is malformed.
    private static func decodeLeniently<S: StringProtocol>(_ text: S) -> String {
        percentDecode(text, plusAsSpace: true) ?? String(text.map { $0 == "+" ? " " : $0 })
    }

    /// Percent-escapes every UTF-8 byte of `text` that `keeping` rejects, with uppercase hex digits.
    private static func escape(_ text: String, spaceAsPlus: Bool, keeping isKept: (UInt8) -> Bool) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isKept(byte) {
                bytes.append(byte)
            } else if spaceAsPlus && byte == UInt8(ascii: " ") {
                bytes.append(UInt8(ascii: "+"))
            } else {
                bytes += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `byte` is an RFC 3986 unreserved character: ALPHA, DIGIT, `-`, `.`, `_` or `~`.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// The value of one ASCII hex digit, or nil if `byte` is not one.
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
