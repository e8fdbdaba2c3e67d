import CarafeCore

/// A database: a pool of connections and the statements that run on them. Open one with
/// `Database.open(url:)` (module `CarafeDatabase`), or from a driver's own constructor
/// (`PostgresDriver`, `SQLiteDriver`), and share it between handlers: it is safe to use from
/// any task.
///
///     let db = try Database.open(url: ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "sqlite:app.sqlite")
///     app.useDatabase(db)                          // req.db in handlers; the `migrate` command
///     app.get("/users/:id") { req in
///         try await req.db.first("SELECT id, name FROM users WHERE id = \(req.parameters.require("id", as: Int.self))", as: User.self)
///     }
public final class Database: SQLExecutor, Sendable {
    public let driver: any DatabaseDriver

    public init(driver: any DatabaseDriver) {
        self.driver = driver
    }

    public var dialect: SQLDialect { self.driver.dialect }

    public func rows(_ sql: SQL) async throws -> [SQLRow] {
        try await SQLTracing.traced([sql], self.dialect) { try await self.driver.withConnection { try await $0.run(sql) } }
    }

    /// Runs several statements on one connection, outside a transaction, and returns each
    /// one's rows, in order (see `Transaction.rows(all:)`: on PostgreSQL they are queued at once).
    public func rows(all statements: [SQL]) async throws -> [[SQLRow]] {
        try await SQLTracing.traced(statements, self.dialect) { try await self.driver.withConnection { try await $0.run(all: statements) } }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws (the
    /// error is then rethrown). Every statement on `transaction` runs on one connection.
    ///
    ///     try await db.transaction { tx in
    ///         try await tx.execute("UPDATE accounts SET balance = balance - \(amount) WHERE id = \(from)")
    ///         try await tx.execute("UPDATE accounts SET balance = balance + \(amount) WHERE id = \(to)")
    ///     }
    ///
    /// Transactions do not nest: use `transaction` inside `body`, not `db`, or the inner
    /// statements run on another connection, outside this transaction.
    public func transaction<T>(_ body: (Transaction) async throws -> T) async throws -> T {
        try await self.driver.withConnection { connection in
            try await Transaction.run(on: connection, dialect: self.dialect, body)
        }
    }

    /// Lends one connection for several statements outside a transaction (session settings,
    /// advisory locks).
    public func withConnection<T>(_ body: (Transaction) async throws -> T) async throws -> T {
        try await self.driver.withConnection { try await body(Transaction(connection: $0, dialect: self.dialect)) }
    }

    /// Closes every connection. The app does this after the drain when it was set up with
    /// `useDatabase` (the database is one of its services).
    public func shutdown() async {
        await self.driver.shutdown()
    }
}
