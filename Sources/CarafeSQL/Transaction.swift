import Synchronization

/// Statements on the one connection of a transaction (see `Database.transaction`).
public struct Transaction: SQLExecutor {
    let connection: any SQLConnection
    public let dialect: SQLDialect
    /// The first statement that the database refused, if any.
    private let firstFailure = FirstFailure()

    private final class FirstFailure: Sendable {
        let error = Mutex<DatabaseError?>(nil)
    }

    init(connection: any SQLConnection, dialect: SQLDialect) {
        self.connection = connection
        self.dialect = dialect
    }

    public func rows(_ sql: SQL) async throws -> [SQLRow] {
        do {
            return try await SQLTracing.traced([sql], self.dialect) { try await self.connection.run(sql) }
        } catch let error as DatabaseError {
            self.firstFailure.error.withLock { $0 = $0 ?? error }
            throw error
        }
    }

    /// Runs several statements on this connection and returns each one's rows, in order. On
    /// PostgreSQL they are all queued on the connection at once, so each is sent as soon as
    /// the one before it is answered, without a return to the caller in between:
    ///
    ///     let rows = try await tx.rows(all: ids.map { "SELECT id, randomnumber FROM world WHERE id = \($0)" })
    ///
    /// Each statement runs on its own (in the transaction, if this is one). Throws the first
    /// statement's error, once every statement has run.
    public func rows(all statements: [SQL]) async throws -> [[SQLRow]] {
        do {
            return try await SQLTracing.traced(statements, self.dialect) { try await self.connection.run(all: statements) }
        } catch let error as DatabaseError {
            self.firstFailure.error.withLock { $0 = $0 ?? error }
            throw error
        }
    }

    /// Runs a script of several statements with no parameters (a migration file).
    public func runScript(_ script: String) async throws {
        try await self.connection.runScript(script)
    }

    /// BEGIN, `body`, COMMIT; ROLLBACK and rethrow if `body` throws. A connection whose
    /// ROLLBACK fails is closed, so the pool never lends one still inside a transaction.
    static func run<T>(on connection: any SQLConnection, dialect: SQLDialect, _ body: (Transaction) async throws -> T) async throws -> T {
        let transaction = Transaction(connection: connection, dialect: dialect)
        _ = try await connection.run(dialect.begin)
        let result: T
        do {
            result = try await body(transaction)
        } catch {
            do {
                _ = try await connection.run("ROLLBACK")
            } catch {
                await connection.close()
            }
            throw error
        }
        if dialect == .postgres, let failure = transaction.firstFailure.error.withLock({ $0 }) {
            // PostgreSQL aborted the transaction at that statement, and its COMMIT would
            // silently roll back: say so rather than return as if it were committed.
            _ = try? await connection.run("ROLLBACK")
            throw TransactionAborted(cause: failure)
        }
        do {
            _ = try await connection.run("COMMIT")
        } catch {
            // Nothing was committed; make sure the connection is not reused mid-transaction.
            if !connection.isClosed { _ = try? await connection.run("ROLLBACK") }
            throw error
        }
        return result
    }
}

/// A PostgreSQL transaction whose body caught a statement's error and went on: PostgreSQL
/// had aborted the transaction at that statement, so nothing of it was committed.
public struct TransactionAborted: Error, CustomStringConvertible {
    /// The statement's error.
    public let cause: DatabaseError

    public var description: String {
        "the transaction was rolled back, not committed: a statement in it failed (\(self.cause)), and PostgreSQL aborts a transaction at its first error"
    }
}
