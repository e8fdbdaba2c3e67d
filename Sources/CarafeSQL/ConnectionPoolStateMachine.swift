import NIOCore

/// The decisions of one event loop's connection pool, apart from its I/O: which connection a
/// query gets, who waits and in what order, who gets a connection that comes back, what to
/// close, and when a wait is over. Events in, actions out; the time is passed in (never read),
/// so a test drives every decision with a clock of its own and no database.
///
/// `Waiter` is whatever resumes a waiting query (the pool's continuation; a name in tests).
/// A connection that opens, fails to open, or closes moves a slot: slots are handed on to the
/// oldest waiter directly, so a new query can never take the slot a waiter was promised.
///
/// Every wait lasts the same `waitTimeout`, so the queue is in deadline order: one timer per
/// pool, armed for the oldest waiter's deadline, is enough (a timer per waiter, never cancelled,
/// once cost a loaded pool a sixth of its CPU: thousands of scheduled tasks, each scanning the
/// queue when it fired).
struct ConnectionPoolStateMachine<Connection, Waiter> {
    typealias Instant = ContinuousClock.Instant

    /// What a query asking for a connection does next.
    enum LeaseAction {
        /// Use this idle connection.
        case use(Connection)
        /// A slot is reserved for it: open a connection, then `release` it or report `openFailed`.
        case open
        /// The waiter was queued: it is resumed by a later action, or fails at `deadline`
        /// (`timeOut(now:)`). `armTimer`: the pool has no timer armed; arm one for `deadline`.
        case wait(id: Int, deadline: Instant, armTimer: Bool)
        /// No connection: the pool is shut down, or too many queries wait already.
        case fail(DatabaseUnavailable)
    }

    typealias Grant = ConnectionPoolGrant<Connection>

    /// What to do with a connection that comes back, or with a slot that came free.
    enum ReleaseAction {
        /// Resume this waiter (the oldest) with the grant.
        case resume(Waiter, Grant)
        /// The connection stays idle for the next query; nothing to do.
        case keep
        /// The pool is shut down: close the connection.
        case close(Connection)
        /// Nothing to do (a closed connection's slot, and nobody waits).
        case none
    }

    private struct Idle {
        let connection: Connection
        let since: Instant
    }

    private struct Queued {
        let id: Int
        let waiter: Waiter
        let deadline: Instant
    }

    let configuration: ConnectionPoolConfiguration
    private var idle: [Idle] = []
    /// Connections open or being opened, idle or lent: the slots in use.
    private(set) var openCount = 0
    /// Oldest first, so also in deadline order.
    private var waiters = CircularBuffer<Queued>()
    private var nextWaiter = 0
    /// A `timeOut(now:)` is due (the pool's one timer is armed).
    private var timerArmed = false
    private(set) var isShutDown = false

    init(configuration: ConnectionPoolConfiguration) {
        self.configuration = configuration
    }

    /// Idle connections now.
    var idleCount: Int { self.idle.count }
    /// Queries waiting now.
    var waitingCount: Int { self.waiters.count }

    private var busyMessage: String {
        let count = self.configuration.maxConnections
        return "every connection (\(count) of \(count)) stayed busy for \(self.configuration.waitTimeout)"
    }

    /// A query asks for a connection at `now`. An idle connection found closed (the server
    /// restarted) is dropped and the next tried; the most recently used idle one is lent
    /// first, so that the others go idle long enough to be closed. `waiter` is kept only for
    /// `.wait`.
    mutating func lease(_ waiter: Waiter, now: Instant, isClosed: (Connection) -> Bool) -> LeaseAction {
        if self.isShutDown { return .fail(DatabaseUnavailable("the connection pool was shut down")) }
        while let entry = self.idle.popLast() {
            if !isClosed(entry.connection) { return .use(entry.connection) }
            self.openCount -= 1
        }
        if self.openCount < self.configuration.maxConnections {
            self.openCount += 1
            return .open
        }
        if self.waiters.count >= self.configuration.maxWaiters {
            return .fail(
                DatabaseUnavailable(
                    "too many queries are waiting for a connection (the pool's limit is \(self.configuration.maxWaiters) waiting)"
                )
            )
        }
        self.nextWaiter += 1
        let deadline = now + self.configuration.waitTimeout
        self.waiters.append(Queued(id: self.nextWaiter, waiter: waiter, deadline: deadline))
        let armTimer = !self.timerArmed
        self.timerArmed = true
        return .wait(id: self.nextWaiter, deadline: deadline, armTimer: armTimer)
    }

    /// A lent connection comes back at `now` (`isClosed`: it broke, or the server closed it).
    mutating func release(_ connection: Connection, isClosed: Bool, now: Instant) -> ReleaseAction {
        if isClosed { return self.slotFreed() }
        if self.isShutDown {
            self.openCount -= 1
            return .close(connection)
        }
        if !self.waiters.isEmpty { return .resume(self.waiters.removeFirst().waiter, .connection(connection)) }
        self.idle.append(Idle(connection: connection, since: now))
        return .keep
    }

    /// Opening a connection in a reserved slot failed (or was cancelled).
    mutating func openFailed() -> ReleaseAction {
        self.slotFreed()
    }

    /// A slot came free: the oldest waiter opens a connection in it, else it is free.
    private mutating func slotFreed() -> ReleaseAction {
        if !self.isShutDown, !self.waiters.isEmpty { return .resume(self.waiters.removeFirst().waiter, .slot) }
        self.openCount -= 1
        return .none
    }

    /// The pool's timer fired at `now`: the waiters whose deadline has come, removed from the
    /// queue (each fails with `error`), and when to fire next (`rearm`: the oldest remaining
    /// waiter's deadline; nil when nobody waits, and the timer is disarmed).
    mutating func timeOut(now: Instant) -> (waiters: [Waiter], error: DatabaseUnavailable, rearm: Instant?) {
        var expired: [Waiter] = []
        while let oldest = self.waiters.first, oldest.deadline <= now {
            expired.append(self.waiters.removeFirst().waiter)
        }
        let rearm = self.waiters.first?.deadline
        self.timerArmed = rearm != nil
        return (expired, DatabaseUnavailable(self.busyMessage), rearm)
    }

    /// Waiter `id` gave up (its task was cancelled): removed, and returned if it still waited.
    mutating func cancel(_ id: Int) -> Waiter? {
        guard let index = self.waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return self.waiters.remove(at: index).waiter
    }

    /// The idle connections unused for the idle timeout by `now`, removed: close them.
    mutating func reap(now: Instant) -> [Connection] {
        let timeout = self.configuration.idleTimeout
        let expired = self.idle.filter { now - $0.since >= timeout }
        guard !expired.isEmpty else { return [] }
        self.idle.removeAll { now - $0.since >= timeout }
        self.openCount -= expired.count
        return expired.map(\.connection)
    }

    /// The pool shuts down: close the idle connections, fail the waiters; a lent connection is
    /// closed when it comes back (`.close`), and later queries fail.
    mutating func shutDown() -> (idle: [Connection], waiters: [Waiter]) {
        self.isShutDown = true
        let idle = self.idle.map(\.connection)
        let waiters = self.waiters.map(\.waiter)
        self.openCount -= idle.count
        self.idle = []
        self.waiters.removeAll()
        return (idle, waiters)
    }
}

/// What a query is given by its pool: a connection, or a slot to open one in.
enum ConnectionPoolGrant<Connection> {
    /// An idle connection, or one that came back.
    case connection(Connection)
    /// A slot reserved for it, or one that came free: the query opens a connection in it.
    case slot
}

extension ConnectionPoolGrant: Sendable where Connection: Sendable {}
