import Foundation

/// A configuration file format besides JSON (the built-in one), chosen by the file's
/// extension: optional modules add theirs (`CarafeTOML`'s `app.config.useTOML()` adds
/// `.toml`), so that the core links no parser it does not need.
public struct ConfigFileFormat: Sendable {
    /// The format's name in messages: `the config file app.toml is not valid TOML: …`.
    public let name: String
    /// The file name extensions it reads, without the dot, lowercase: `["toml"]`.
    public let extensions: [String]
    /// The file's text as an object of JSON-like values (`String`, `Int`, `Double`, `Bool`,
    /// `[Any]`, `[String: Any]`), as `JSONSerialization` would give; throws a message saying
    /// where the text is wrong (the file's path is added to it).
    public let parse: @Sendable (String) throws -> [String: Any]

    public init(name: String, extensions: [String], parse: @escaping @Sendable (String) throws -> [String: Any]) {
        self.name = name
        self.extensions = extensions.map { $0.lowercased() }
        self.parse = parse
    }
}
