@_exported import CarafePostgres
@_exported import CarafeSQL
@_exported import CarafeSQLite
import Foundation

extension Database {
    /// Opens the database a URL names (the pool connects on first use):
    ///
    /// - `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`): PostgreSQL, with a
    ///   pool on each event loop (`PostgresDriver`);
    /// - `sqlite:PATH` (`sqlite:app.sqlite`, `sqlite:///var/lib/app/app.sqlite`): SQLite in that
    ///   file, created if missing (`SQLiteDriver`);
    /// - `sqlite::memory:`: SQLite in memory, for tests.
    ///
    /// The pool's limits come from `pool` (else the driver's defaults), then from the URL's
    /// query, which wins: `?max_connections=8&connect_timeout=2&idle_timeout=300&wait_timeout=1`
    /// (timeouts in seconds, fractions allowed). So an app runs with nothing installed, and on
    /// PostgreSQL when deployed:
    ///
    ///     let db = try Database.open(url: ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "sqlite:app.sqlite")
    public static func open(url: String, pool: ConnectionPoolConfiguration? = nil) throws -> Database {
        let (base, query) = try Self.splitQuery(url)
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            let configuration = try Self.pool(pool ?? ConnectionPoolConfiguration(), query, in: url)
            return Database(driver: try PostgresDriver(url: url, pool: configuration))
        }
        if base == "sqlite::memory:" {
            return Database(
                driver: SQLiteDriver(
                    storage: .memory,
                    pool: try Self.pool(pool ?? ConnectionPoolConfiguration(maxConnections: 1), query, in: url)
                )
            )
        }
        if base.hasPrefix("sqlite:") {
            var path = String(base.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }  // sqlite:///abs/path
            guard !path.isEmpty else { throw DatabaseURLError("sqlite: needs a path: sqlite:app.sqlite or sqlite::memory:") }
            let configuration = try Self.pool(pool ?? ConnectionPoolConfiguration(maxConnections: 8), query, in: url)
            return Database(driver: SQLiteDriver(storage: .file(path), pool: configuration))
        }
        throw DatabaseURLError(
            "unknown database URL scheme in \(url.prefix { $0 != ":" }):…; use postgres://USER:PASSWORD@HOST:PORT/DATABASE or sqlite:PATH"
        )
    }

    /// The URL before `?`, and its query's parameters.
    private static func splitQuery(_ url: String) throws -> (String, [String: String]) {
        guard let question = url.firstIndex(of: "?") else { return (url, [:]) }
        var parameters: [String: String] = [:]
        for pair in url[url.index(after: question)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            parameters[String(parts[0])] = parts.count > 1 ? String(parts[1]).removingPercentEncoding : ""
        }
        return (String(url[..<question]), parameters)
    }

    /// `configuration` with the URL's pool parameters applied.
    private static func pool(
        _ configuration: ConnectionPoolConfiguration,
        _ query: [String: String],
        in url: String
    ) throws -> ConnectionPoolConfiguration {
        var configuration = configuration
        func seconds(_ name: String) throws -> Duration? {
            guard let text = query[name] else { return nil }
            guard let value = Double(text), value > 0, value < 1e9 else {
                throw DatabaseURLError("\(name) must be a positive number of seconds, got '\(text)'")
            }
            return .milliseconds(Int64(value * 1000))
        }
        if let text = query["max_connections"] {
            guard let value = Int(text), value > 0 else {
                throw DatabaseURLError("max_connections must be a positive integer, got '\(text)'")
            }
            configuration.maxConnections = value
        }
        if let value = try seconds("connect_timeout") { configuration.connectTimeout = value }
        if let value = try seconds("idle_timeout") { configuration.idleTimeout = value }
        if let value = try seconds("wait_timeout") { configuration.waitTimeout = value }
        return configuration
    }
}
