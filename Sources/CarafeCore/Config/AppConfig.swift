import Foundation
import Synchronization

/// The app's configuration (Flask's `app.config`, pydantic-settings' `BaseSettings`): a
/// `Decodable` settings type of your own, each property read from the highest source that
/// sets it:
///
/// 1. an environment variable: `prefix` + the property's name in upper snake case
///    (`databaseURL` or `database_url` → `DATABASE_URL`);
/// 2. the same variable in the `.env` file of the current directory;
/// 3. the configuration file: `--config FILE` on the command line, or `$CARAFE_CONFIG`; a JSON
///    object keyed by the properties' names (`"page_size": 20` or `"pageSize": 20`), or a TOML
///    file (`page_size = 20`) once `CarafeTOML`'s `app.config.useTOML()` is called;
/// 4. the defaults: the value given to `load(_:)`, or for `load(_:prefix:)` of a type
///    alone, what the type's `init(from:)` does for a missing key (`decodeIfPresent`).
///
///     struct Settings: Codable {
///         var databaseURL = "sqlite:app.sqlite"
///         var secretKey = ""
///         var pageSize = 20
///     }
///     let settings = try app.config.load(Settings())
///
/// Text from the environment is converted to the property's type (`true`/`false`, numbers;
/// other types are read as JSON). A value that does not convert throws `ConfigError` naming
/// the setting, the value and its source, so that a bad deployment stops at start. What was
/// loaded, and from where, is in `entries`; `serve --print-config` prints it with the
/// server's flags, secrets masked.
public final class AppConfig: @unchecked Sendable {
    /// The command line searched for `--config FILE` (by default, the process's).
    public var arguments: [String] = CommandLine.arguments
    /// The environment (by default, the process's).
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// The `.env` file (by default, `.env` in the current directory; absent is fine).
    public var dotEnvPath = ".env"
    /// File formats besides JSON, by extension (`CarafeTOML`'s `useTOML()` adds `.toml`);
    /// set them before the first `load`.
    public var fileFormats: [ConfigFileFormat] = []

    private let loaded = Mutex<[ConfigEntry]>([])

    public init() {}

    /// The settings loaded so far, in the order they were read, each with its source.
    public var entries: [ConfigEntry] { self.loaded.withLock { $0 } }

    /// The entry of the setting `name` (its coding key), as loaded: to name the source of a
    /// value the app checks further, `throw ConfigError(entry: config.entry(named: "pageSize")!, problem: "…")`.
    public func entry(named name: String) -> ConfigEntry? {
        self.entries.last { $0.name == name }
    }

    /// Loads `T`, starting from `defaults`: every property can then be set by any source.
    public func load<T: Codable>(_ defaults: T, prefix: String = "") throws -> T {
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults))
        guard let object = json as? [String: Any] else { throw ConfigError("a settings type must encode as named properties") }
        return try self.load(T.self, prefix: prefix, defaults: ConfigSources.normalizingKeys(object))
    }

    /// `load(defaults)`, or on a bad value the message on standard error and exit status 78
    /// (`EX_CONFIG`): for `main.swift`, where a thrown error would end in a crash report.
    public func loadOrExit<T: Codable>(_ defaults: T, prefix: String = "") -> T {
        do {
            return try self.load(defaults, prefix: prefix)
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            exit(78)
        }
    }

    /// Loads `T`; a property that no source sets is decoded as a missing key.
    public func load<T: Decodable>(_ type: T.Type, prefix: String = "") throws -> T {
        try self.load(type, prefix: prefix, defaults: [:])
    }

    /// The sources as this configuration reads them (the environment, `.env`, the file).
    func sources() throws -> ConfigSources {
        try ConfigSources(arguments: self.arguments, environment: self.environment, dotEnvPath: self.dotEnvPath, formats: self.fileFormats)
    }

    private func load<T: Decodable>(_ type: T.Type, prefix: String, defaults: [String: Any]) throws -> T {
        let sources = try self.sources()
        var entries: [ConfigEntry] = []
        let decoder = ConfigDecoder(
            lookup: { sources.lookup($0, prefix: prefix, defaults: defaults) },
            record: { entry in
                if !entries.contains(where: { $0.name == entry.name }) { entries.append(entry) }
            }
        )
        let value = try T(from: decoder)
        self.loaded.withLock { loaded in
            loaded.removeAll { old in entries.contains { $0.name == old.name } }
            loaded += entries
        }
        return value
    }
}
