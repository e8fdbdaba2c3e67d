/// A configuration that cannot be used: a bad value (the message names its source and the
/// value), a file that does not parse, a `.env` line that is not `NAME=value`. `serve` stops
/// with it before it binds anything.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    /// "Invalid configuration: page_size = 'ten' (from environment variable PAGE_SIZE): expected a whole number",
    /// for a value that converted but that the app refuses (`AppConfig.entry(named:)` gives the entry).
    public init(entry: ConfigEntry, problem: String) {
        let shown = entry.isSecret ? "********" : "'\(entry.value.map(ConfigEntry.maskingURLPassword) ?? "")'"
        self.init("Invalid configuration: \(entry.name) = \(shown) (from \(entry.source)): \(problem)")
    }
}
