/// What `Database` needs from a database's driver: its dialect and connections lent from a pool.
/// `CarafePostgres` and `CarafeSQLite` provide one each.
public protocol DatabaseDriver: Sendable {
    var dialect: SQLDialect { get }
    /// Lends a connection for the duration of `body`. Throws `DatabaseUnavailable` when none can
    /// be had in time.
    func withConnection<T>(_ body: (any SQLConnection) async throws -> T) async throws -> T
    /// Closes every connection; later calls to `withConnection` throw `DatabaseUnavailable`.
    func shutdown() async
}
