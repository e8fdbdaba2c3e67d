import CarafeSQL
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO

#if canImport(Glibc)
import Glibc
#endif

/// SQLite through sqlite-nio: the embedded database, a file next to the app, nothing to
/// install or run. SQLite's C calls block, so they run on a thread pool of the driver's own (a
/// thread per connection), never on an event loop; a handler awaits them as it would a
/// network database.
///
/// A file database opens in WAL mode (readers do not wait for the writer) with a busy timeout,
/// so concurrent writers, in this process or another, wait their turn instead of failing, and
/// foreign keys are enforced. The pool is one for the process (not per event loop).
///
///     let db = Database(driver: SQLiteDriver(path: "app.sqlite"))
///     let db = Database(driver: SQLiteDriver.inMemory())      // tests: one connection, gone at shutdown
public final class SQLiteDriver: DatabaseDriver {
    public enum Storage: Sendable, Equatable {
        case file(String)
        /// A database that lives in one connection: the pool holds just that one.
        case memory
    }

    public let storage: Storage
    public let pool: ConnectionPool<SQLiteSQLConnection>
    /// The threads that run SQLite's calls, one per connection.
    private let threads: NIOThreadPool
    public var dialect: SQLDialect { .sqlite }

    /// - Parameters:
    ///   - busyTimeout: how long a statement waits for another connection's write lock.
    public init(
        storage: Storage,
        pool: ConnectionPoolConfiguration = ConnectionPoolConfiguration(maxConnections: 8),
        busyTimeout: Duration = .seconds(5),
        logger: Logger = Logger(label: "carafe.sqlite")
    ) {
        self.storage = storage
        var pool = pool
        if storage == .memory {
            pool.maxConnections = 1  // every in-memory connection is a database of its own
            pool.idleTimeout = .seconds(100 * 365 * 86400)  // closing it would lose the data
        }
        // A thread per connection: a connection waiting for the write lock (busy timeout)
        // holds its thread, and the writer must still find one to commit on.
        let threads = NIOThreadPool(numberOfThreads: pool.maxConnections)
        threads.start()
        self.threads = threads
        let milliseconds = TimeAmount(busyTimeout).nanoseconds / 1_000_000
        self.pool = ConnectionPool(configuration: pool, perEventLoop: false, logger: logger) { loop in
            let connection: SQLiteConnection
            do {
                switch storage {
                case .file(let path):
                    Self.createPrivately(path)
                    connection = try await SQLiteConnection.open(storage: .file(path: path), threadPool: threads, logger: logger, on: loop)
                case .memory:
                    connection = try await SQLiteConnection.open(storage: .memory, threadPool: threads, logger: logger, on: loop)
                }
            } catch {
                throw DatabaseUnavailable("cannot open the SQLite database: \(error)")
            }
            let wrapped = SQLiteSQLConnection(connection)
            do {
                // The busy timeout first: switching to WAL takes a lock that another connection
                // opening at the same moment may hold.
                _ = try await wrapped.run(SQL(stringLiteral: "PRAGMA busy_timeout = \(milliseconds)"))
                if case .file = storage { try await Self.switchToWAL(wrapped, within: busyTimeout) }
                _ = try await wrapped.run("PRAGMA foreign_keys = ON")
            } catch {
                // A connection that failed to set up (or whose opening timed out) is closed, not
                // dropped open.
                await wrapped.close()
                throw error
            }
            return wrapped
        }
    }

    /// Switches the database to write-ahead logging, retrying while another connection holds
    /// the lock. SQLite skips the busy handler where waiting could deadlock, and switching the
    /// journal mode is such a case: connections opening together on a new file (six workers
    /// migrating at start) would otherwise fail at once with SQLITE_BUSY.
    static func switchToWAL(_ connection: SQLiteSQLConnection, within timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                _ = try await connection.run("PRAGMA journal_mode = WAL")
                return
            } catch is DatabaseUnavailable where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    /// Creates the database file, if missing, readable and writable by its owner only (0600):
    /// it holds whatever the app keeps, password hashes included, and SQLite gives its `-wal`
    /// and `-shm` files the database file's mode. An existing file keeps its mode.
    static func createPrivately(_ path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd >= 0 { close(fd) }
    }

    /// A database in the file at `path` (created if missing, mode 0600).
    public convenience init(path: String, pool: ConnectionPoolConfiguration = ConnectionPoolConfiguration(maxConnections: 8)) {
        self.init(storage: .file(path), pool: pool)
    }

    /// A database in memory, for tests.
    public static func inMemory() -> SQLiteDriver {
        SQLiteDriver(storage: .memory)
    }

    public func withConnection<T>(_ body: (any SQLConnection) async throws -> T) async throws -> T {
        try await self.pool.withConnection { try await body($0) }
    }

    public func shutdown() async {
        await self.pool.shutdown()
        try? await self.threads.shutdownGracefully()
    }
}
