/// A media type with its parameters, as in `Content-Type` and `Content-Disposition`:
/// `multipart/form-data; boundary="a b"` (RFC 9110 §8.3.1; quoted strings unescaped).
struct MediaType: Sendable, Equatable {
    /// The type without parameters, lowercased: `multipart/form-data` (or `form-data` for a
    /// disposition).
    var type: String
    /// Parameters by lowercased name; a repeated name keeps the first.
    var parameters: [String: String]

    /// nil for an empty value.
    init?(_ header: String) {
        var scanner = ParameterScanner(Array(header.utf8))
        let type = scanner.token(until: UInt8(ascii: ";")).lowercased()
        guard !type.isEmpty else { return nil }
        self.type = type
        self.parameters = [:]
        while scanner.skip(UInt8(ascii: ";")) {
            let name = scanner.token(until: UInt8(ascii: "=")).lowercased()
            guard scanner.skip(UInt8(ascii: "=")) else {
                _ = scanner.token(until: UInt8(ascii: ";"))
                continue
            }
            let value = scanner.value()
            if !name.isEmpty && self.parameters[name] == nil { self.parameters[name] = value }
        }
    }
}

/// Reads tokens and (quoted) values from a header's bytes.
struct ParameterScanner {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private mutating func skipSpaces() {
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
    }

    /// The text up to `stop` (or `;`), trimmed.
    mutating func token(until stop: UInt8) -> String {
        skipSpaces()
        let start = index
        while index < bytes.count, bytes[index] != stop, bytes[index] != UInt8(ascii: ";") { index += 1 }
        var end = index
        while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// Skips white space and `byte`; false if the next byte is not `byte`.
    mutating func skip(_ byte: UInt8) -> Bool {
        skipSpaces()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// A quoted string (with `\` escapes) or a token up to `;`.
    mutating func value() -> String {
        skipSpaces()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return token(until: UInt8(ascii: ";")) }
        index += 1
        var out: [UInt8] = []
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            // Browsers do not escape `\` in file names (WHATWG's form encoding escapes `"` as %22),
            // so only `\"` and `\\` are escapes; a lone `\` is kept.
            if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count,
                bytes[index + 1] == UInt8(ascii: "\"") || bytes[index + 1] == UInt8(ascii: "\\")
            {
                index += 1
            }
            out.append(bytes[index])
            index += 1
        }
        index += 1  // the closing quote
        // Skip anything up to the next parameter.
        while index < bytes.count, bytes[index] != UInt8(ascii: ";") { index += 1 }
        return String(decoding: out, as: UTF8.self)
    }
}
