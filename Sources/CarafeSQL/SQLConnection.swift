/// One open connection of a driver (PostgreSQL, SQLite): what a pool hands out.
public protocol SQLConnection: AnyObject, Sendable {
    /// Runs one statement with its bound parameters and returns its rows (none for most writes).
    func run(_ sql: SQL) async throws -> [SQLRow]
    /// Runs a script of several statements, with no parameters: a migration file.
    func runScript(_ script: String) async throws
    /// Whether the connection is gone (closed by either side): the pool drops it.
    var isClosed: Bool { get }
    func close() async
}
