/// Statements on the one connection of a transaction (see `Database.transaction`).
public struct Transaction: SQLExecutor {
    let connection: any SQLConnection
    public let dialect: SQLDialect

    init(connection: any SQLConnection, dialect: SQLDialect) {
        self.connection = connection
        self.dialect = dialect
    }

    public func rows(_ sql: SQL) async throws -> [SQLRow] {
        try await self.connection.run(sql)
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
