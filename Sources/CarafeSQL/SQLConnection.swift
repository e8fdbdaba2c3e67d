/// One open connection of a driver (PostgreSQL, SQLite): what a pool hands out.
public protocol SQLConnection: AnyObject, Sendable {
    /// Runs one statement with its bound parameters and returns its rows (none for most writes).
    func run(_ sql: SQL) async throws -> [SQLRow]
    /// Runs several statements, each on its own (not in one transaction unless the caller is
    /// in one), and returns each one's rows, in order. A driver may send them all before the
    /// first answer comes back (PostgreSQL queues them on the connection); the default runs
    /// them in turn. Throws the first statement's error, after every statement has run.
    func run(all statements: [SQL]) async throws -> [[SQLRow]]
    /// Runs a script of several statements, with no parameters: a migration file.
    func runScript(_ script: String) async throws
    /// Whether the connection is gone (closed by either side): the pool drops it.
    var isClosed: Bool { get }
    func close() async
}

extension SQLConnection {
    public func run(all statements: [SQL]) async throws -> [[SQLRow]] {
        var results: [[SQLRow]] = []
        results.reserveCapacity(statements.count)
        var firstError: (any Error)?
        for statement in statements {
            do {
                results.append(try await self.run(statement))
            } catch {
                firstError = firstError ?? error
                results.append([])
            }
        }
        if let firstError { throw firstError }
        return results
    }
}
