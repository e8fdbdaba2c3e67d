import Foundation

/// A `.env` file: `NAME=value` lines, as python-dotenv and Foreman read them. `#` starts a
/// comment line; `export ` before a name is allowed; a value in single quotes is taken as it
/// is, one in double quotes understands `\n`, `\"` and `\\`; an unquoted value ends at ` #`.
/// Variables already in the environment win over the file (as python-dotenv's default).
enum DotEnv {
    /// The variables of `text`; throws `ConfigError` naming the line that is not `NAME=value`.
    static func parse(_ text: String, path: String) throws -> [(name: String, value: String)] {
        var variables: [(String, String)] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst("export ".count)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigError("\(path):\(index + 1): expected NAME=value, got '\(line)'")
            }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw ConfigError("\(path):\(index + 1): '\(name)' is not a variable name (letters, digits, '_')")
            }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("'"), value.hasSuffix("'") {
                value = String(value.dropFirst().dropLast())
            } else if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = Self.unescape(String(value.dropFirst().dropLast()))
            } else if let comment = value.range(of: " #") {
                value = value[..<comment.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            variables.append((name, value))
        }
        return variables
    }

    private static func unescape(_ text: String) -> String {
        var out = ""
        var escaping = false
        for character in text {
            if escaping {
                switch character {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                out.append(character)
            }
        }
        return out
    }
}
