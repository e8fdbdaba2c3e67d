import NIOCore

/// The lifecycle of one `HTTPServer`, as a pure state machine: events in (start, a listener
/// bound, a connection opened or closed, a request counted, shutdown, drained, loops stopped),
/// actions out. The server keeps one of these behind one lock and carries out what it answers;
/// the machine itself does no I/O and reads no clock (`now` comes with the events that need
/// it), so every transition is unit-tested without sockets.
///
///     idle ─start─▶ starting ─started─▶ serving ─shutdown─▶ draining ─drained─▶ stopping ─loopsStopped─▶ stopped
///       └──────────────┴───────────────────┴─shutdown (or max requests)─▲
///
/// `Listener` is what accepts connections (a channel or a shared-socket acceptor in the server,
/// a number in the tests); `Waiter` is whoever waits for the stop (a continuation).
struct HTTPServerStateMachine<Listener, Waiter> {
    enum State {
        /// Created; nothing bound.
        case idle
        /// `start()` is binding; these are bound so far.
        case starting(listeners: [Listener])
        /// Accepting connections on these.
        case serving(listeners: [Listener])
        /// Not accepting; open connections finish their requests until `deadline`.
        case draining(deadline: NIODeadline)
        /// The connections are gone (or the deadline passed): the stop hooks run, then the loops stop.
        case stopping
        /// Everything has stopped.
        case stopped
    }

    /// What idle keep-alive connections do during the drain (`HTTPConnectionStateMachine.DrainMode`).
    private(set) var drainMode: HTTPConnectionStateMachine.DrainMode = .linger
    private(set) var state: State = .idle
    private let gracefulTimeout: TimeAmount
    private let maxConnections: Int?
    private let maxRequests: Int?
    /// Connections open now, counted only with `maxConnections`; and whether accepting is paused for it.
    private(set) var openConnections = 0
    private(set) var acceptingPaused = false
    /// Requests handed to the responder, counted only with `maxRequests`.
    private(set) var requestsServed = 0
    /// Run in turn once the connections are gone, just before the loops stop.
    private var beforeLoopsStop: [@Sendable () async -> Void] = []
    private var waiters: [Waiter] = []
    /// The task that carries out the drain once it began (`owns(_:)`): whoever waits for the stop
    /// awaits it too, so that nothing of the shutdown runs on after the wait returns.
    private(set) var stopTask: Task<Void, Never>?

    init(gracefulTimeout: TimeAmount, maxConnections: Int? = nil, maxRequests: Int? = nil) {
        self.gracefulTimeout = gracefulTimeout
        self.maxConnections = maxConnections
        self.maxRequests = maxRequests
    }

    /// True once the shutdown has begun: every response from then on closes its connection.
    var isDraining: Bool {
        switch self.state {
        case .idle, .starting, .serving: false
        case .draining, .stopping, .stopped: true
        }
    }

    /// The listeners accepting now (for the local addresses, and to pause or resume accepting).
    var listeners: [Listener] {
        switch self.state {
        case .starting(let listeners), .serving(let listeners): listeners
        case .idle, .draining, .stopping, .stopped: []
        }
    }

    // MARK: Starting

    enum StartAction: Equatable {
        /// Bind every configured address, reporting each with `bound(_:)`, then call `started()`.
        case bind
        /// `start()` was called already, or after a shutdown: say why.
        case refuse(String)
    }

    mutating func start() -> StartAction {
        switch self.state {
        case .idle:
            self.state = .starting(listeners: [])
            return .bind
        case .starting, .serving:
            return .refuse("the server was started already")
        case .draining, .stopping, .stopped:
            return .refuse("the server was shut down; a stopped server does not start again")
        }
    }

    enum BoundAction {
        /// It serves from now on.
        case keep
        /// A shutdown came while binding: close this one at once.
        case close(Listener)
    }

    mutating func bound(_ listener: Listener) -> BoundAction {
        guard case .starting(var listeners) = self.state else { return .close(listener) }
        listeners.append(listener)
        self.state = .starting(listeners: listeners)
        return .keep
    }

    /// Every address is bound (or one failed: the caller shuts down). No action.
    mutating func started() {
        guard case .starting(let listeners) = self.state else { return }
        self.state = .serving(listeners: listeners)
    }

    // MARK: Admission and counting

    enum AdmissionAction: Equatable {
        case none
        /// `maxConnections` are open: stop accepting.
        case pauseAccepting(limit: Int)
        /// Back below the limit: accept again.
        case resumeAccepting
    }

    /// A connection was accepted (called only with `maxConnections` set).
    mutating func connectionOpened() -> AdmissionAction {
        self.openConnections += 1
        guard let limit = self.maxConnections, self.openConnections >= limit, !self.acceptingPaused else { return .none }
        self.acceptingPaused = true
        return .pauseAccepting(limit: limit)
    }

    /// A connection counted by `connectionOpened()` closed.
    mutating func connectionClosed() -> AdmissionAction {
        self.openConnections -= 1
        guard let limit = self.maxConnections, self.acceptingPaused, self.openConnections < limit else { return .none }
        self.acceptingPaused = false
        // A draining server has closed its listeners: nothing to resume.
        return self.isDraining ? .none : .resumeAccepting
    }

    enum RequestAction {
        case none
        /// The `maxRequests`-th request: the drain has begun in this same step, so this very
        /// response closes its connection; stop accepting now (another worker takes the next
        /// connection) and carry out `drain`.
        case limitReached(count: Int, drain: ShutdownAction)
    }

    /// A request is about to be answered (called only with `maxRequests` set).
    mutating func requestReceived(now: NIODeadline) -> RequestAction {
        self.requestsServed += 1
        guard let limit = self.maxRequests, self.requestsServed == limit else { return .none }
        return .limitReached(count: self.requestsServed, drain: self.shutdown(closingIdle: false, now: now))
    }

    // MARK: Stopping

    enum ShutdownAction {
        /// Begin the drain: close these listeners, tell the connections, wait until `deadline`
        /// for them to close, then call `drained()`.
        case drain(listeners: [Listener], deadline: NIODeadline)
        /// A shutdown is under way (or done): only wait for it.
        case waitForStop
    }

    /// `closingIdle`: idle keep-alive connections close at once instead of lingering for one more
    /// request. A second call may ask for that (a second Ctrl-C) even though the drain has begun.
    mutating func shutdown(closingIdle: Bool, now: NIODeadline) -> ShutdownAction {
        if closingIdle { self.drainMode = .closeIdle }
        switch self.state {
        case .idle:
            self.state = .draining(deadline: now + self.gracefulTimeout)
            return .drain(listeners: [], deadline: now + self.gracefulTimeout)
        case .starting(let listeners), .serving(let listeners):
            self.state = .draining(deadline: now + self.gracefulTimeout)
            return .drain(listeners: listeners, deadline: now + self.gracefulTimeout)
        case .draining, .stopping, .stopped:
            return .waitForStop
        }
    }

    /// The drain that `.drain` asked for runs in `task`.
    mutating func owns(_ task: Task<Void, Never>) {
        self.stopTask = task
    }

    /// Stop at once (a second Ctrl-C): idle connections close; the caller closes every connection.
    mutating func closeAllConnections() {
        self.drainMode = .closeIdle
    }

    /// Adds `body` to what runs before the loops stop. Refused (false) once they are stopping:
    /// it would never run.
    mutating func addBeforeLoopsStop(_ body: @escaping @Sendable () async -> Void) -> Bool {
        switch self.state {
        case .stopping, .stopped: return false
        case .idle, .starting, .serving, .draining:
            self.beforeLoopsStop.append(body)
            return true
        }
    }

    enum DrainedAction {
        /// Run these in turn, then stop the event loops and call `loopsStopped()`.
        case stopLoops(after: [@Sendable () async -> Void])
        case none
    }

    /// The connections closed, or the graceful deadline passed and the rest were closed.
    mutating func drained() -> DrainedAction {
        guard case .draining = self.state else { return .none }
        self.state = .stopping
        defer { self.beforeLoopsStop = [] }
        return .stopLoops(after: self.beforeLoopsStop)
    }

    /// The event loops stopped: returns who waited for it, to be resumed.
    mutating func loopsStopped() -> [Waiter] {
        self.state = .stopped
        defer { self.waiters = [] }
        return self.waiters
    }

    enum WaitAction: Equatable {
        /// Stopped already: resume it now.
        case resume
        /// Kept: resumed by `loopsStopped()`.
        case wait
    }

    mutating func waitUntilStopped(_ waiter: Waiter) -> WaitAction {
        guard case .stopped = self.state else {
            self.waiters.append(waiter)
            return .wait
        }
        return .resume
    }
}
