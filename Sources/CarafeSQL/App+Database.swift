import CarafeCore
import ServiceLifecycle

extension App {
    /// Makes `database` the app's: handlers reach it as `req.db`; it runs as one of the app's
    /// services (`addService`), so its connections close once the server has drained and the
    /// services added after it have stopped; and the command line gains `migrate [DIRECTORY]`, which applies the
    /// migration files in DIRECTORY (default `migrations`) and exits.
    ///
    ///     let db = try Database.open(url: ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "sqlite:app.sqlite")
    ///     app.useDatabase(db, migrations: "migrations")
    ///     try await app.run()          // `app migrate`, then `app serve`
    public func useDatabase(_ database: Database, migrations directory: String = "migrations") {
        self.storage[Database.Key.self] = database
        self.addService(database)
        self.command("migrate", abstract: "Apply the database migrations not applied yet (default directory: \(directory)).") {
            [logger] arguments in
            guard arguments.count <= 1, arguments.first?.hasPrefix("-") != true else {
                throw MigrationError("usage: migrate [DIRECTORY]")
            }
            var logger = logger
            logger.logLevel = .notice
            let applied = try await database.migrate(directory: arguments.first ?? directory, logger: logger)
            print(applied.isEmpty ? "No migrations to apply." : "Applied \(applied.count) migrations: \(applied.joined(separator: ", ")).")
            await database.shutdown()
        }
    }
}

/// A database as a swift-service-lifecycle `Service` (`useDatabase` adds it to the app; put it
/// in your own `ServiceGroup` to share it): `run()` waits for the graceful shutdown, or a
/// cancellation, then closes every connection.
extension Database: Service {
    public func run() async throws {
        try? await gracefulShutdown()
        await self.shutdown()
    }
}

extension Database {
    /// Where the app keeps its database.
    enum Key: StorageKey { typealias Value = Database }
}

extension Request {
    /// The app's database (`app.useDatabase`). In an app without one, every statement throws
    /// an error (a 500) that says so.
    public var db: Database {
        self.appStorage[Database.Key.self] ?? Database.missing
    }
}

extension Database {
    /// What `req.db` is in an app that never called `useDatabase`.
    static let missing = Database(driver: MissingDatabaseDriver())
}

/// The driver of `Database.missing`: every use fails with a message naming the fix.
private struct MissingDatabaseDriver: DatabaseDriver {
    struct NoDatabase: Error, CustomStringConvertible {
        var description: String { "req.db: this app has no database; call app.useDatabase(_:) before serving" }
    }

    var dialect: SQLDialect { .postgres }
    func withConnection<T>(_ body: (any SQLConnection) async throws -> T) async throws -> T { throw NoDatabase() }
    func shutdown() async {}
}
