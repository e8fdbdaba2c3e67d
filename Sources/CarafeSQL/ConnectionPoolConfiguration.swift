import NIOCore

/// The limits of a connection pool.
public struct ConnectionPoolConfiguration: Sendable {
    /// Most connections open at once: per event loop for PostgreSQL (so per worker process,
    /// `maxConnections` × event loops), in all for SQLite.
    public var maxConnections: Int
    /// How long opening a connection may take before the query gets `DatabaseUnavailable` (503).
    public var connectTimeout: Duration
    /// A connection idle this long is closed (the next query opens a new one).
    public var idleTimeout: Duration
    /// How long a query waits for a busy connection to come free before `DatabaseUnavailable`.
    public var waitTimeout: Duration
    /// Most queries waiting for a connection per pool; one more gets `DatabaseUnavailable` at once.
    public var maxWaiters: Int

    public init(
        maxConnections: Int = 4,
        connectTimeout: Duration = .seconds(5),
        idleTimeout: Duration = .seconds(60),
        waitTimeout: Duration = .seconds(5),
        maxWaiters: Int = 1024
    ) {
        precondition(maxConnections > 0, "a pool needs at least one connection")
        self.maxConnections = maxConnections
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.waitTimeout = waitTimeout
        self.maxWaiters = maxWaiters
    }
}
