import Foundation

/// Where the app keeps its data, from the environment:
///
/// - `DATABASE_URL`: `postgres://USER:PASSWORD@HOST:PORT/DATABASE` for PostgreSQL; by default
///   `sqlite:microblog.sqlite`, a file in the current directory, created on first start.
/// - `SECRET_KEY`: signs the session cookies (at least 32 characters). Without it, a key is
///   made once and kept in `microblog.secret-key`, beside the SQLite file (for PostgreSQL, in
///   the current directory).
struct Configuration {
    let databaseURL: String
    let secretKeyFile: String

    init(environment: [String: String]) {
        self.databaseURL = environment["DATABASE_URL"] ?? "sqlite:microblog.sqlite"
        var directory = "."
        if self.databaseURL.hasPrefix("sqlite:"), self.databaseURL != "sqlite::memory:" {
            var path = String(self.databaseURL.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            directory = (path as NSString).deletingLastPathComponent
            if directory.isEmpty { directory = "." }
        }
        self.secretKeyFile = (directory as NSString).appendingPathComponent("microblog.secret-key")
    }
}
