import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 server on SwiftNIO that hands complete requests to an `HTTPResponder`.
///
/// Lifecycle: `start()` binds every address of the configuration (once); `shutdown()` stops
/// accepting, lets in-flight requests finish (each gets `Connection: close`) for up to
/// `gracefulTimeout`, runs the `beforeEventLoopsStop` callbacks, then stops the event loops.
/// Every lifecycle decision is `HTTPServerStateMachine`'s, kept behind one lock; this type
/// carries out its actions.
///
/// With `maxRequests` set, the server shuts itself down gracefully after that many requests;
/// with `maxConnections` set, it stops accepting while that many connections are open.
public final class HTTPServer: Sendable {
    typealias StateMachine = HTTPServerStateMachine<Listener, CheckedContinuation<Void, Never>>

    /// What accepts connections: a bound channel, or an inherited socket shared with other processes.
    enum Listener: Sendable {
        case channel(any Channel, tls: Bool)
        case shared(SharedSocketAcceptor, tls: Bool)

        var localAddress: SocketAddress? {
            switch self {
            case .channel(let channel, _): channel.localAddress
            case .shared(let acceptor, _): acceptor.localAddress
            }
        }

        var isTLS: Bool {
            switch self {
            case .channel(_, let tls), .shared(_, let tls): tls
            }
        }

        func setAccepting(_ accepting: Bool) {
            switch self {
            case .channel(let channel, _):
                channel.setOption(.autoRead, value: accepting).whenFailure { _ in }
                if accepting { channel.read() }
            case .shared(let acceptor, _):
                acceptor.setAccepting(accepting)
            }
        }

        func close() async {
            switch self {
            case .channel(let channel, _): try? await channel.close()
            case .shared(let acceptor, _): await acceptor.close()
            }
        }
    }

    /// State shared by all connections of one server: the lifecycle, behind its one lock.
    final class SharedState: Sendable {
        let logger: Logger
        /// The server's lifecycle (`HTTPServerStateMachine`): the one source of its state.
        let lifecycle: Mutex<StateMachine>
        /// A copy of `lifecycle`'s `isDraining`, written only while holding its lock when a
        /// transition starts the drain, so that every response reads it without taking the lock.
        private let draining = Atomic<Bool>(false)
        /// Ends the subscriptions of long-lived responses when the drain begins.
        let drainSignal = DrainSignal()

        init(logger: Logger, machine: sending StateMachine) {
            self.logger = logger
            self.lifecycle = Mutex(machine)
        }

        /// True once a graceful shutdown has begun: responses then close their connections.
        var isDraining: Bool { self.draining.load(ordering: .relaxed) }

        /// Publishes the machine's `isDraining`; call it inside the lock after a transition.
        func publish(_ machine: borrowing StateMachine) {
            if machine.isDraining { self.draining.store(true, ordering: .relaxed) }
        }

        /// What idle connections do while the server drains.
        var drainMode: HTTPConnectionStateMachine.DrainMode { self.lifecycle.withLock { $0.drainMode } }
    }

    public let configuration: HTTPServerConfiguration
    private let responder: any HTTPResponder
    private let group: MultiThreadedEventLoopGroup
    private let loops: [ObjectIdentifier: EventLoopResources]
    private let shared: SharedState
    private let connections = ConnectionRegistry()

    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoops))
        var loops: [ObjectIdentifier: EventLoopResources] = [:]
        for loop in self.group.makeIterator() {
            loops[ObjectIdentifier(loop)] = EventLoopResources(loop)
        }
        self.loops = loops
        let machine = StateMachine(
            gracefulTimeout: configuration.gracefulTimeout,
            maxConnections: configuration.maxConnections,
            maxRequests: configuration.maxRequests
        )
        let shared = SharedState(logger: logger, machine: machine)
        self.shared = shared
        self.responder = responder
    }

    /// What a connection's handlers answer with: the app's responder, behind the request counter
    /// when `maxRequests` is set (made per connection, so it holds the server no longer than that).
    private var connectionResponder: any HTTPResponder {
        self.configuration.maxRequests == nil ? self.responder : CountingResponder(inner: self.responder, server: self)
    }

    /// How many connections a listener accepts per wake-up of its event loop. With
    /// `maxConnections` set it stays at NIO's 4: accepting pauses only after a batch, and a
    /// batch of 256 could pass the cap by 255.
    static let acceptBatch: UInt = 256

    /// The event loops that serve connections (a supervisor's heartbeat visits each of them).
    public var eventLoopGroup: any EventLoopGroup { self.group }

    /// Runs `body` during `shutdown()`, after the connections have closed and just before the
    /// event loops stop: the last moment to stop work scheduled on them. Each runs in turn, in
    /// the order they were added, and the loops stop after the last one returns. Added once the
    /// loops are stopping, it runs at once (there is nothing left to wait for).
    public func beforeEventLoopsStop(_ body: @escaping @Sendable () async -> Void) {
        guard !self.shared.lifecycle.withLock({ $0.addBeforeLoopsStop(body) }) else { return }
        self.shared.logger.debug("a before-loops-stop hook was added after the loops began stopping; it is not run")
    }

    /// Connections open now (read by the metrics' open-connections gauge at each scrape).
    public var openConnections: Int { self.connections.count }

    /// Requests handed to the responder so far (counted only when `maxRequests` is set).
    public var requestsServed: Int { self.shared.lifecycle.withLock { $0.requestsServed } }

    /// The addresses the server listens on, with real port numbers where the configuration said 0.
    public var localAddresses: [SocketAddress] { self.shared.lifecycle.withLock { $0.listeners }.compactMap(\.localAddress) }

    /// The local addresses of the listeners that speak TLS (a subset of `localAddresses`).
    public var localTLSAddresses: [SocketAddress] {
        self.shared.lifecycle.withLock { $0.listeners }.filter(\.isTLS).compactMap(\.localAddress)
    }

    /// Binds every configured address and starts accepting connections. A server starts once:
    /// a second call, or one after `shutdown()`, throws.
    public func start() async throws {
        if case .refuse(let why) = self.shared.lifecycle.withLock({ $0.start() }) {
            throw HTTPServerLifecycleError(description: why)
        }
        let acceptBatch: UInt = self.configuration.maxConnections == nil ? Self.acceptBatch : 4
        for (listener, address) in self.configuration.bind.enumerated() {
            let bootstrap = ServerBootstrap(group: self.group)
                .serverChannelOption(.backlog, value: self.configuration.backlog)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                // Accept every waiting connection in one wake-up (NIO's default is 4). With 4, a
                // burst of 1,024 new connections takes 256 loop iterations to accept, each also
                // serving the connections already open: the last ones wait seconds for their
                // first answer, which was the p99 at c=1024 (issue #14).
                .serverChannelOption(.maxMessagesPerRead, value: acceptBatch)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                // A connection keeps its receive buffer for its whole life (NIO pools it), so
                // the first one is small: 512 bytes hold a typical request head, an idle event
                // stream or WebSocket keeps no more, and the buffer grows for a busy connection.
                .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536))
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture { try self.configure(channel, listener: listener) }
                }
            let bound: Listener
            do {
                bound = try await self.bind(address, listener: listener, bootstrap: bootstrap)
            } catch {
                throw HTTPServerError(address: address, underlying: error)
            }
            if case .close(let late) = self.shared.lifecycle.withLock({ $0.bound(bound) }) {
                await late.close()  // the server was shut down while binding
                return
            }
            self.shared.logger.info(
                "listening on \(address)\(bound.isTLS ? " (TLS)" : "") (\(bound.localAddress?.description ?? "?"))"
            )
        }
        self.shared.lifecycle.withLock { $0.started() }
    }

    private func bind(_ address: BindAddress, listener: Int, bootstrap: ServerBootstrap) async throws -> Listener {
        switch address {
        case .hostPort(let host, let port):
            return .channel(try await bootstrap.bind(host: host, port: port).get(), tls: self.isTLS(listener))
        case .unixDomainSocket(let path):
            let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            return .channel(channel, tls: self.isTLS(listener))
        case .fileDescriptor(let fd):
            // Make sure it listens (a no-op if it already does), then accept on a thread of
            // its own: the socket may be shared with other processes (see SharedSocketAcceptor).
            guard listen(fd, self.configuration.backlog) == 0 else {
                throw IOError(errnoCode: errno, reason: "listen() on inherited descriptor \(fd)")
            }
            let connections = ClientBootstrap(group: self.group)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelOption(.maxMessagesPerRead, value: 16)
                .channelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture { try self.configure(channel, listener: listener) }
                }
            let logger = self.shared.logger
            let configured = ConfiguredBootstrap(bootstrap: connections)
            let acceptor = try SharedSocketAcceptor(descriptor: fd, loop: self.group.next(), logger: logger) { socket in
                configured.bootstrap.withConnectedSocket(socket).whenFailure { error in
                    logger.debug("could not set up an accepted connection: \(error)")
                }
            }
            return .shared(acceptor, tls: self.isTLS(listener))
        }
    }

    /// Whether listener number `listener` (an index into `bind`) speaks TLS.
    public func isTLS(_ listener: Int) -> Bool {
        self.configuration.tls != nil && self.configuration.tlsBinds.contains(listener)
    }

    private func configure(_ channel: any Channel, listener: Int) throws {
        guard let loop = self.loops[ObjectIdentifier(channel.eventLoop)] else {
            preconditionFailure("a connection on an event loop that is not the server's")
        }
        self.connections.add(channel)
        if self.configuration.maxConnections != nil {
            self.admit(channel)
        }
        let responder = self.connectionResponder
        let sync = channel.pipeline.syncOperations
        let connectionGuard = ConnectionGuardHandler(configuration: self.configuration, loop: loop) { [shared] in shared.drainMode }
        let requestHandler = HTTPRequestHandler(
            configuration: self.configuration,
            responder: responder,
            loop: loop,
            server: self.shared,
            connectionGuard: connectionGuard
        )
        requestHandler.isSecure = self.isTLS(listener)
        if let allowFrom = self.configuration.proxyProtocol {
            try sync.addHandler(ProxyProtocolHandler(allowFrom: allowFrom, logger: self.shared.logger, requestHandler: requestHandler))
        }
        let tlsListener = self.isTLS(listener)
        let http1: (any Channel) throws -> Void = { [self] channel in
            // Over TLS, one record per response rather than one per response part.
            if tlsListener { try channel.pipeline.syncOperations.addHandler(WriteCoalescingHandler()) }
            try self.addHTTP1Handlers(to: channel, connectionGuard: connectionGuard, requestHandler: requestHandler)
        }
        guard let http2 = self.configuration.http2 else {
            if let tls = self.configuration.tls, self.isTLS(listener) {
                try tls.secure(channel, applicationProtocols: ["http/1.1"]) { _ in
                    channel.eventLoop.makeCompletedFuture { try http1(channel) }
                }
            } else {
                try http1(channel)
            }
            return
        }
        // The client's address from a PROXY protocol header, read when a stream starts.
        let proxied = NIOLoopBound(requestHandler, eventLoop: channel.eventLoop)
        let streams = HTTPStreamPipeline { [self] stream in
            let handler = HTTPRequestHandler(
                configuration: self.configuration,
                responder: responder,
                loop: loop,
                server: self.shared,
                connectionGuard: nil,
                speaksHTTP1: false
            )
            handler.clientAddress = proxied.value.clientAddress
            handler.isSecure = proxied.value.isSecure
            try stream.pipeline.syncOperations.addHandler(handler)
        }
        if let tls = self.configuration.tls, self.isTLS(listener) {
            try tls.secure(channel, applicationProtocols: ["h2", "http/1.1"]) { negotiated in
                if negotiated == "h2" { return http2.configure(channel, streams: streams) }
                return channel.eventLoop.makeCompletedFuture { try http1(channel) }
            }
        } else if http2.acceptsPriorKnowledge {
            try sync.addHandler(HTTP2PrefaceDetector(http2: { http2.configure($0, streams: streams) }, http1: http1))
        } else {
            try http1(channel)
        }
    }

    /// The HTTP/1.1 handlers, after any PROXY protocol reader and TLS.
    private func addHTTP1Handlers(
        to channel: any Channel,
        connectionGuard: ConnectionGuardHandler,
        requestHandler: HTTPRequestHandler
    ) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        // The parser stops hostile heads early; `HTTPRequestHandler` then checks the exact limits
        // so that the answer can say which one was broken.
        limits.maxHeaderFieldCount = self.configuration.maxHeaderFields
        limits.maxHeaderFieldSize = max(self.configuration.maxHeaderFieldSize, self.configuration.maxRequestLine) * 8
        limits.maxHeaderListSize = max(80 * 1024, limits.maxHeaderFieldSize)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(connectionGuard)
        try sync.configureHTTPServerPipeline(
            withPipeliningAssistance: true,
            withErrorHandling: false,
            withOutboundHeaderValidation: true,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: limits
        )
        try sync.addHandler(requestHandler)
    }

    /// Counts `channel` against `maxConnections`: pauses accepting when it is reached, resumes
    /// when a connection closes below it.
    private func admit(_ channel: any Channel) {
        self.carryOut(self.shared.lifecycle.withLock { $0.connectionOpened() })
        channel.closeFuture.whenComplete { _ in
            self.carryOut(self.shared.lifecycle.withLock { $0.connectionClosed() })
        }
    }

    private func carryOut(_ action: StateMachine.AdmissionAction) {
        switch action {
        case .none:
            break
        case .pauseAccepting(let limit):
            self.shared.logger.info("\(limit) connections open (the worker-connections limit); pausing accepting")
            self.setAccepting(false)
        case .resumeAccepting:
            self.shared.logger.debug("below the worker-connections limit; accepting again")
            self.setAccepting(true)
        }
    }

    private func setAccepting(_ accepting: Bool) {
        self.shared.lifecycle.withLock { $0.listeners }.forEach { $0.setAccepting(accepting) }
    }

    /// Counts a request toward `maxRequests`; at the limit the drain begins at once, so that this
    /// very response already closes its connection and no other connection is accepted meanwhile
    /// (another worker takes it).
    fileprivate func countRequest() {
        let action = self.shared.lifecycle.withLock { machine -> StateMachine.RequestAction in
            let action = machine.requestReceived(now: .now())
            if case .limitReached(_, let drain) = action { self.own(drain, in: &machine) }
            return action
        }
        guard case .limitReached(let count, let drain) = action else { return }
        if case .drain(let listeners, _) = drain { listeners.forEach { $0.setAccepting(false) } }
        self.shared.logger.notice("served \(count) requests (the max-requests limit); shutting down gracefully")
    }

    /// Carries out a `.drain` in a task the machine keeps (`stopTask`), inside the lock that
    /// decided it, and publishes the drain to the connections.
    private func own(_ action: StateMachine.ShutdownAction, in machine: inout StateMachine) {
        self.shared.publish(machine)
        guard case .drain(let listeners, let deadline) = action else { return }
        machine.owns(Task { await self.drain(closing: listeners, until: deadline) })
    }

    /// Shuts down gracefully: see the type's description. Returns once every connection has
    /// closed or `gracefulTimeout` has passed, and the event loops have stopped. A second call
    /// only waits for the first to finish.
    ///
    /// `closingIdle`: close idle keep-alive connections at once (a quick stop, Ctrl-C on a
    /// development server) instead of keeping each open for one more request until its
    /// keep-alive timeout (the default: a request a client is already sending is answered,
    /// with `Connection: close`, not lost; what `HUP`, `TERM` and `--max-requests` need).
    public func shutdown(closingIdle: Bool = false) async {
        self.beginShutdown(closingIdle: closingIdle)
        await self.waitUntilStopped()
    }

    /// Starts `shutdown()` and returns at once (from a signal handler): the server owns the
    /// drain's task, and `waitUntilStopped()` returns once it has finished.
    public func beginShutdown(closingIdle: Bool = false) {
        self.shared.lifecycle.withLock { machine in
            self.own(machine.shutdown(closingIdle: closingIdle, now: .now()), in: &machine)
        }
    }

    /// `beginShutdown()` once `delay` has passed (a drain delay: serving on while a load balancer
    /// notices the health path failing). The timer is on the server's own loop, so it goes with
    /// the loops if they stop first.
    public func beginShutdown(after delay: Duration) {
        self.group.next().scheduleTask(in: TimeAmount(delay)) { self.beginShutdown() }
    }

    /// The drain: what `.drain` asks for, then the stop hooks and the event loops.
    private func drain(closing listeners: [Listener], until deadline: NIODeadline) async {
        // Event streams and long polls end now: their handlers return and their bodies end.
        let streams = self.shared.drainSignal.drain()
        for listener in listeners {
            await listener.close()
        }
        await self.settleAcceptedConnections()
        let open = self.connections.count
        if open > 0 {
            let seconds = HTTPConnectionStateMachine.describe(self.configuration.gracefulTimeout)
            self.shared.logger.notice(
                "waiting up to \(seconds) for \(open) connection\(open == 1 ? "" : "s") to finish (\(streams) stream\(streams == 1 ? "" : "s") told to end)"
            )
        }
        let stragglers = await self.connections.drain(until: deadline, on: self.group.next())
        if !stragglers.isEmpty {
            self.shared.logger.warning("graceful timeout passed with \(stragglers.count) connections still busy; closing them")
            for channel in stragglers {
                try? await channel.close()
            }
        }
        if case .stopLoops(let hooks) = self.shared.lifecycle.withLock({ $0.drained() }) {
            for body in hooks {
                await body()
            }
        }
        try? await self.group.shutdownGracefully()
        self.shared.lifecycle.withLock { $0.loopsStopped() }.forEach { $0.resume() }
    }

    /// A connection accepted just before its listener closed is still on its way. NIO's
    /// `ServerBootstrap` sets an accepted socket up in a task on the connection's loop (our
    /// initializer, which adds it to the registry), then hops back to the listener's loop,
    /// which registers it or, the listener being closed, closes it. The drain would not see it
    /// (nor tell it to finish), and once the loops stop it would be neither served nor closed:
    /// its client would wait on an open socket forever. Two turns of every loop run both steps,
    /// so after this each such connection is in the registry or closed.
    private func settleAcceptedConnections() async {
        for _ in 0..<2 {
            for loop in self.group.makeIterator() {
                try? await loop.submit {}.get()
            }
        }
    }

    /// Stops at once: closes every open connection, so that a `shutdown()` in progress stops
    /// waiting for them (a second Ctrl-C).
    public func closeAllConnections() {
        self.shared.lifecycle.withLock { $0.closeAllConnections() }
        for channel in self.connections.all {
            channel.close(promise: nil)
        }
    }

    /// Waits until `shutdown()` has finished: the connections are gone, the stop hooks have run,
    /// the event loops have stopped, and the task that did it has returned.
    public func waitUntilStopped() async {
        await withCheckedContinuation { continuation in
            if self.shared.lifecycle.withLock({ $0.waitUntilStopped(continuation) }) == .resume { continuation.resume() }
        }
        await self.shared.lifecycle.withLock { $0.stopTask }?.value
    }
}

/// `start()` called twice, or after `shutdown()`.
public struct HTTPServerLifecycleError: Error, CustomStringConvertible {
    public let description: String
}

/// A listening address that could not be set up, and why.
public struct HTTPServerError: Error, CustomStringConvertible {
    public let address: BindAddress
    public let underlying: any Error

    public var description: String {
        var reason = "\(self.underlying)"
        if let io = self.underlying as? IOError {
            reason = String(cString: strerror(io.errnoCode)).lowercased()
            switch io.errnoCode {
            case EADDRINUSE: reason += " (another process listens there; pick another port or stop it)"
            case EACCES: reason += " (ports below 1024 need privileges; for a unix socket, the directory must be writable)"
            case EADDRNOTAVAIL: reason += " (no interface of this machine has that address)"
            case ENOENT: reason += " (the socket's directory does not exist)"
            default: break
            }
        }
        switch self.address {
        case .unixDomainSocket(let path): return "cannot listen on unix socket \(path): \(reason)"
        default: return "cannot listen on \(self.address): \(reason)"
        }
    }
}

/// Counts each request toward `maxRequests` (the server's lifecycle decides), then lets `inner` answer it.
struct CountingResponder: HTTPResponder {
    let inner: any HTTPResponder
    let server: HTTPServer

    func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
        self.server.countRequest()
        return await self.inner.respond(to: request)
    }
}

/// A `ClientBootstrap` that is only read once configured (`withConnectedSocket` does not
/// change it), so sharing it with the acceptor's thread is safe.
struct ConfiguredBootstrap: @unchecked Sendable {
    let bootstrap: ClientBootstrap
}
