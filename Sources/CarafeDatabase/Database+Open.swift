@_exported import CarafePostgres
@_exported import CarafeSQL
@_exported import CarafeSQLite

extension Database {
    /// Opens the database a URL names (the pool connects on first use):
    ///
    /// - `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`): PostgreSQL, with a
    ///   pool on each event loop (`PostgresDriver`);
    /// - `sqlite:PATH` (`sqlite:app.sqlite`, `sqlite:///var/lib/app/app.sqlite`): SQLite in that
    ///   file, created if missing (`SQLiteDriver`);
    /// - `sqlite::memory:`: SQLite in memory, for tests.
    ///
    /// So an app runs with nothing installed, and on PostgreSQL when deployed:
    ///
    ///     let db = try Database.open(url: ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "sqlite:app.sqlite")
    public static func open(url: String, pool: ConnectionPoolConfiguration? = nil) throws -> Database {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return Database(driver: try PostgresDriver(url: url, pool: pool ?? ConnectionPoolConfiguration()))
        }
        if url == "sqlite::memory:" {
            return Database(driver: SQLiteDriver(storage: .memory))
        }
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }  // sqlite:///abs/path
            guard !path.isEmpty else { throw DatabaseURLError("sqlite: needs a path: sqlite:app.sqlite or sqlite::memory:") }
            return Database(driver: SQLiteDriver(storage: .file(path), pool: pool ?? ConnectionPoolConfiguration(maxConnections: 8)))
        }
        throw DatabaseURLError("unknown database URL scheme in \(url.prefix { $0 != ":" }):…; use postgres://USER:PASSWORD@HOST:PORT/DATABASE or sqlite:PATH")
    }
}
