/// Where a configuration value came from, for `serve --print-config` and for the message of a
/// bad value.
public enum ConfigSource: Sendable, Hashable, CustomStringConvertible {
    /// The default: the settings type's own, or the flag's.
    case defaults
    /// The configuration file (`--config FILE` or `$CARAFE_CONFIG`).
    case file(path: String)
    /// A line of the `.env` file.
    case dotEnv(path: String, variable: String)
    /// An environment variable.
    case environment(variable: String)
    /// The command line.
    case commandLine

    public var description: String {
        switch self {
        case .defaults: "default"
        case .file(let path): "config file \(path)"
        case .dotEnv(let path, let variable): "\(variable) in \(path)"
        case .environment(let variable): "environment variable \(variable)"
        case .commandLine: "command line"
        }
    }
}

/// One setting as loaded: its name, its value as text, and where the value came from.
public struct ConfigEntry: Sendable, Hashable {
    /// The setting's name: the coding key of a settings type, or `serve`'s flag (`--workers`).
    public let name: String
    /// The value as text; nil when nothing set it and it has no default.
    public let value: String?
    public let source: ConfigSource
    /// Whether the value is shown masked: a name that says secret, password, token or key,
    /// and the password inside a URL.
    public var isSecret: Bool { ConfigEntry.isSecret(self.name) }

    public init(name: String, value: String?, source: ConfigSource) {
        self.name = name
        self.value = value
        self.source = source
    }

    /// The value as `--print-config` shows it: secrets as `********`, a URL's password too.
    public var displayValue: String {
        guard let value else { return "(unset)" }
        if self.isSecret { return value.isEmpty ? "" : "********" }
        return Self.maskingURLPassword(value)
    }

    package static func isSecret(_ name: String) -> Bool {
        let words = ConfigKey.words(name)
        return words.contains { ["secret", "password", "passwd", "token", "key", "credentials", "apikey"].contains($0) }
            && !words.contains("keep")  // keep-alive
    }

    /// `postgres://app:secret@db/app` → `postgres://app:********@db/app`.
    static func maskingURLPassword(_ value: String) -> String {
        guard let scheme = value.range(of: "://"), let at = value[scheme.upperBound...].firstIndex(of: "@") else { return value }
        let credentials = value[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return value }
        return String(value[..<value.index(after: colon)]) + "********" + String(value[at...])
    }
}

/// How setting names are matched across sources: `pageSize`, `page_size`, `PAGE_SIZE` and
/// `page-size` are one setting.
package enum ConfigKey {
    /// The lowercase words of a name: `databaseURL` → `database`, `url`; `log-level` → `log`, `level`.
    static func words(_ name: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previous: Character?
        for character in name {
            if character == "_" || character == "-" || character == "." || character == " " {
                if !current.isEmpty { words.append(current) }
                current = ""
            } else {
                if character.isUppercase, let previous, previous.isLowercase || previous.isNumber, !current.isEmpty {
                    words.append(current)
                    current = ""
                }
                current.append(character)
            }
            previous = character
        }
        if !current.isEmpty { words.append(current) }
        return words.map { $0.lowercased() }
    }

    /// The environment variable for a name: `databaseURL` → `DATABASE_URL`, after `prefix`.
    static func environmentName(_ name: String, prefix: String) -> String {
        prefix + self.words(name).joined(separator: "_").uppercased()
    }

    /// The form names are compared in.
    package static func normalized(_ name: String) -> String {
        self.words(name).joined()
    }
}
