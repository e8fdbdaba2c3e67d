import Carafe
import Foundation

/// The microblog's settings, through `app.config` (see docs/configuration.md): each from its
/// environment variable, the `.env` file, the `--config` JSON file or the default here.
///
/// - `DATABASE_URL`: `postgres://USER:PASSWORD@HOST:PORT/DATABASE` for PostgreSQL; by default
///   `sqlite:microblog.sqlite`, a file in the current directory, created on first start.
/// - `SECRET_KEY`: signs the session cookies (at least 32 characters). Without it, a key is
///   made once and kept in `microblog.secret-key`, beside the SQLite file (for PostgreSQL, in
///   the current directory).
/// - `PAGE_SIZE`: posts per page, 1 to 100 (default 20).
/// - `AVATAR_DIRECTORY`: where users' pictures are kept; by default `microblog-avatars`
///   beside the SQLite file (for PostgreSQL, in the current directory).
struct Settings: Codable, Sendable {
    var databaseURL = "sqlite:microblog.sqlite"
    var secretKey = ""
    var pageSize = 20
    var avatarDirectory = ""

    enum CodingKeys: String, CodingKey {
        case databaseURL = "database_url"
        case secretKey = "secret_key"
        case pageSize = "page_size"
        case avatarDirectory = "avatar_directory"
    }

    static let pageSizes = 1...100

    /// The settings of `config`; a bad value stops the start with a message naming it.
    static func load(_ config: AppConfig) -> Settings {
        let settings = config.loadOrExit(Settings())
        if !Self.pageSizes.contains(settings.pageSize), let entry = config.entry(named: CodingKeys.pageSize.rawValue) {
            FileHandle.standardError.write(
                Data(
                    "Error: \(ConfigError(entry: entry, problem: "expected \(Self.pageSizes.lowerBound) to \(Self.pageSizes.upperBound) posts per page"))\n"
                        .utf8
                )
            )
            exit(78)
        }
        return settings
    }

    /// Where a key made without `SECRET_KEY` is kept: beside the SQLite file, else here.
    var secretKeyFile: String {
        (self.dataDirectory as NSString).appendingPathComponent("microblog.secret-key")
    }

    /// Where pictures are kept: `AVATAR_DIRECTORY`, else beside the SQLite file, else here.
    var avatarPath: String {
        self.avatarDirectory.isEmpty ? (self.dataDirectory as NSString).appendingPathComponent("microblog-avatars") : self.avatarDirectory
    }

    /// The SQLite file's directory, or the current one.
    var dataDirectory: String {
        var directory = "."
        if self.databaseURL.hasPrefix("sqlite:"), self.databaseURL != "sqlite::memory:" {
            var path = String(self.databaseURL.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            directory = (path as NSString).deletingLastPathComponent
            if directory.isEmpty { directory = "." }
        }
        return directory
    }
}
