import CarafeCore
import CoreMetrics
import NIOCore
import NIOPosix
import Synchronization

/// Connections to one database, lent to one query or transaction at a time.
///
/// With `perEventLoop`, each event loop has a pool of its own, of connections created on that
/// loop: a handler (which runs on its connection's loop) gets a database connection whose I/O
/// runs on the same thread, so a query never hops threads. Callers that are not on an event
/// loop (a command, a test) use one shared loop's pool.
///
/// A connection found closed (the database restarted) is dropped and a new one opened. When
/// none can be had (the database is down, or every connection stays busy past `waitTimeout`),
/// the caller gets `DatabaseUnavailable` (a 503) quickly, never a hang.
public final class ConnectionPool<Connection: SQLConnection>: Sendable {
    /// Opens a connection on the given loop.
    public typealias Connect = @Sendable (any EventLoop) async throws -> Connection

    public let configuration: ConnectionPoolConfiguration
    private let perEventLoop: Bool
    private let connect: Connect
    private let defaultLoop: any EventLoop
    private let logger: Logger
    private let pools = Mutex<(closed: Bool, byLoop: [ObjectIdentifier: LoopPool<Connection>])>((false, [:]))

    public init(configuration: ConnectionPoolConfiguration, perEventLoop: Bool, logger: Logger, connect: @escaping Connect) {
        self.configuration = configuration
        self.perEventLoop = perEventLoop
        self.connect = connect
        self.defaultLoop = MultiThreadedEventLoopGroup.singleton.next()
        self.logger = logger
    }

    /// Lends a connection for the duration of `body`, then takes it back (or drops it if it broke).
    public func withConnection<T>(_ body: (Connection) async throws -> T) async throws -> T {
        let pool = try self.currentPool()
        let metrics = self.metrics
        let asked = ContinuousClock.now
        metrics.pending.increment()
        let connection: Connection
        do {
            connection = try await pool.lease()
        } catch {
            metrics.pending.decrement()
            if error is DatabaseUnavailable { metrics.timeouts.increment() }
            throw error
        }
        metrics.pending.decrement()
        metrics.waitTime.recordNanoseconds(TimeAmount(ContinuousClock.now - asked).nanoseconds)
        metrics.used.increment()
        defer { metrics.used.decrement() }
        do {
            let result = try await body(connection)
            pool.release(connection)
            return result
        } catch {
            pool.release(connection)
            throw error
        }
    }

    /// Made on first use, once the app has bootstrapped its metrics backend (a pool is often
    /// made before).
    private var metrics: PoolMetrics {
        self.madeMetrics.withLock { made in
            if let made { return made }
            let metrics = PoolMetrics()
            made = metrics
            return metrics
        }
    }
    private let madeMetrics = Mutex<PoolMetrics?>(nil)

    /// Connections open now (idle or lent), in all loops' pools.
    public var openConnections: Int {
        self.pools.withLock { Array($0.byLoop.values) }.reduce(0) { $0 + $1.openCount }
    }

    /// Closes the idle connections, and each lent one when it comes back; fails waiting and
    /// later queries with `DatabaseUnavailable`.
    public func shutdown() async {
        let pools = self.pools.withLock { state in
            state.closed = true
            return Array(state.byLoop.values)
        }
        for pool in pools { await pool.shutdown() }
    }

    private func currentPool() throws -> LoopPool<Connection> {
        let loop = self.perEventLoop ? (MultiThreadedEventLoopGroup.currentEventLoop ?? self.defaultLoop) : self.defaultLoop
        return try self.pools.withLock { state in
            if state.closed { throw DatabaseUnavailable("the connection pool was shut down") }
            if let pool = state.byLoop[ObjectIdentifier(loop)] { return pool }
            let pool = LoopPool(loop: loop, configuration: self.configuration, logger: self.logger, connect: self.connect)
            state.byLoop[ObjectIdentifier(loop)] = pool
            return pool
        }
    }
}

/// What a pool records through swift-metrics, named as OpenTelemetry's database client
/// conventions are in Prometheus (`db.client.connection.count` → `db_client_connection_count`).
struct PoolMetrics: Sendable {
    /// Connections lent out now (`{db_client_connection_state="used"}`).
    let used = Meter(label: "db_client_connection_count", dimensions: [("db_client_connection_state", "used")])
    /// Queries waiting for a connection.
    let pending = Meter(label: "db_client_connection_pending_requests")
    /// How long a query waited for its connection.
    let waitTime = Timer(label: "db_client_connection_wait_time_seconds")
    /// Queries that got no connection: every one stayed busy past the wait timeout, too many
    /// waited, or none could be opened (each a 503).
    let timeouts = Counter(label: "db_client_connection_timeouts_total")
}

/// The connections of one event loop: `ConnectionPoolStateMachine` decides, this runs its
/// actions (opens and closes connections, resumes waiters, arms the timers).
final class LoopPool<Connection: SQLConnection>: Sendable {
    private typealias Machine = ConnectionPoolStateMachine<Connection, CheckedContinuation<ConnectionPoolGrant<Connection>, any Error>>

    private struct State {
        var machine: Machine
        var reaper: RepeatedTask?
    }

    let loop: any EventLoop
    private let configuration: ConnectionPoolConfiguration
    private let connect: ConnectionPool<Connection>.Connect
    private let logger: Logger
    private let state: Mutex<State>
    /// The closes of connections returned to a closed pool or reaped for idleness: `shutdown` waits for them.
    private let closing = OwnedTasks()

    init(
        loop: any EventLoop,
        configuration: ConnectionPoolConfiguration,
        logger: Logger,
        connect: @escaping ConnectionPool<Connection>.Connect
    ) {
        self.loop = loop
        self.configuration = configuration
        self.logger = logger
        self.connect = connect
        self.state = Mutex(State(machine: Machine(configuration: configuration)))
    }

    var openCount: Int { self.state.withLock { $0.machine.openCount } }

    func lease() async throws -> Connection {
        let waitID = Mutex<Int?>(nil)
        let grant: ConnectionPoolGrant<Connection> = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ConnectionPoolGrant<Connection>, any Error>) in
                if Task.isCancelled { return continuation.resume(throwing: CancellationError()) }
                // Decided and queued under one lock: a connection that comes back meanwhile
                // finds the waiter.
                let action = self.state.withLock { $0.machine.lease(continuation, now: .now, isClosed: { $0.isClosed }) }
                switch action {
                case .use(let connection):
                    continuation.resume(returning: .connection(connection))
                case .open:
                    continuation.resume(returning: .slot)
                case .fail(let error):
                    continuation.resume(throwing: error)
                case .wait(let id, let deadline, let armTimer):
                    waitID.withLock { $0 = id }
                    if Task.isCancelled, let waiter = self.state.withLock({ $0.machine.cancel(id) }) {
                        return waiter.resume(throwing: CancellationError())  // cancelled before `onCancel` could see the id
                    }
                    if armTimer { self.armTimer(for: deadline) }
                }
            }
        } onCancel: {
            guard let id = waitID.withLock({ $0 }) else { return }
            self.state.withLock { $0.machine.cancel(id) }?.resume(throwing: CancellationError())
        }
        switch grant {
        case .connection(let connection):
            return connection
        case .slot:
            do {
                let connection = try await self.open()
                self.startReaper()
                return connection
            } catch {
                self.run(self.state.withLock { $0.machine.openFailed() })
                if error is CancellationError { throw error }
                self.logger.warning("could not connect to the database: \(String(reflecting: error))")
                throw error as? DatabaseUnavailable ?? DatabaseUnavailable("could not connect to it")
            }
        }
    }

    /// Takes back a lent connection: to the oldest waiter, else to the idle list; a closed one
    /// frees its slot for the oldest waiter.
    func release(_ connection: Connection) {
        let isClosed = connection.isClosed
        self.run(self.state.withLock { $0.machine.release(connection, isClosed: isClosed, now: .now) })
    }

    private func run(_ action: Machine.ReleaseAction) {
        switch action {
        case .resume(let waiter, let grant): waiter.resume(returning: grant)
        case .keep, .none: break
        case .close(let connection): self.closing.run { await connection.close() }
        }
    }

    func shutdown() async {
        let ((idle, waiters), reaper) = self.state.withLock { state in
            defer { state.reaper = nil }
            return (state.machine.shutDown(), state.reaper)
        }
        reaper?.cancel()
        waiters.forEach { $0.resume(throwing: DatabaseUnavailable("the connection pool was shut down")) }
        for connection in idle { await connection.close() }
        await self.closing.wait(grace: .seconds(5))
    }

    /// Fails the waiters whose wait is over.
    private func timeOut() {
        let (expired, error, rearm) = self.state.withLock { $0.machine.timeOut(now: .now) }
        expired.forEach { $0.resume(throwing: error) }
        if let rearm { self.armTimer(for: rearm) }
    }

    /// The pool's one wait timer (the machine says when to arm it).
    private func armTimer(for deadline: ContinuousClock.Instant) {
        self.loop.scheduleTask(in: TimeAmount(max(deadline - .now, .zero))) { self.timeOut() }
    }

    /// Opens a connection, giving up after the connect timeout.
    private func open() async throws -> Connection {
        let timeout = self.configuration.connectTimeout
        return try await withThrowingTaskGroup(of: Connection?.self) { group in
            group.addTask { [connect, loop] in try await connect(loop) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next()
            group.cancelAll()
            if case let connection?? = first { return connection }
            // Timed out: a connection that opens anyway is closed, not leaked.
            while let late = try? await group.next() { await late?.close() }
            throw DatabaseUnavailable("no connection within \(timeout)")
        }
    }

    /// Closes connections idle for longer than the idle timeout, checking every half of it.
    private func startReaper() {
        let idleTimeout = self.configuration.idleTimeout
        let period = max(idleTimeout / 2, .milliseconds(100))
        self.state.withLock { state in
            guard state.reaper == nil, !state.machine.isShutDown else { return }
            state.reaper = self.loop.scheduleRepeatedTask(initialDelay: TimeAmount(period), delay: TimeAmount(period)) { [weak self] _ in
                guard let self else { return }
                let expired = self.state.withLock { $0.machine.reap(now: .now) }
                if !expired.isEmpty {
                    self.logger.debug("closing \(expired.count) idle database connections")
                    self.closing.run { for connection in expired { await connection.close() } }
                }
            }
        }
    }
}
