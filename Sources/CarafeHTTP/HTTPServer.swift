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
/// Lifecycle: `start()` binds every address of the configuration; `shutdown()` stops
/// accepting, closes idle keep-alive connections, lets in-flight requests finish (each gets
/// `Connection: close`) for up to `gracefulTimeout`, then stops the event loops.
///
/// With `maxRequests` set, the server shuts itself down gracefully after that many requests;
/// with `maxConnections` set, it stops accepting while that many connections are open.
public final class HTTPServer: Sendable {
    /// State shared by all connections of one server.
    final class SharedState: Sendable {
        let logger: Logger
        private let draining = Atomic<Bool>(false)
        private let closeIdle = Atomic<Bool>(false)
        /// Ends the subscriptions of long-lived responses when the drain begins.
        let drainSignal = DrainSignal()

        init(logger: Logger) { self.logger = logger }

        /// True once a graceful shutdown has begun: responses then close their connections.
        var isDraining: Bool { self.draining.load(ordering: .relaxed) }
        func beginDraining() { self.draining.store(true, ordering: .relaxed) }

        /// What idle connections do while the server drains.
        var drainMode: HTTPConnectionStateMachine.DrainMode { self.closeIdle.load(ordering: .relaxed) ? .closeIdle : .linger }
        func closeIdleConnections() { self.closeIdle.store(true, ordering: .relaxed) }
    }

    public let configuration: HTTPServerConfiguration
    private let responder: any HTTPResponder
    private let group: MultiThreadedEventLoopGroup
    private let loops: [ObjectIdentifier: EventLoopResources]
    private let shared: SharedState
    private let connections = ConnectionRegistry()
    private let listeners = Mutex<[any Channel]>([])
    /// The local addresses of the TLS listeners.
    private let tlsAddresses = Mutex<[SocketAddress]>([])
    /// Inherited sockets (`fd://N`), which other processes may accept on too.
    private let acceptors = Mutex<[SharedSocketAcceptor]>([])
    /// Open connections, and whether accepting is paused because of `maxConnections`.
    private let admission = Mutex<(open: Int, paused: Bool)>((0, false))
    private let requestCounter: RequestCounter
    private let shutdownStarted = Atomic<Bool>(false)
    private let loopsStopping = Mutex<[@Sendable () async -> Void]>([])
    /// Whether `shutdown()` has finished, and who waits for it to.
    private let stopped = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        let counter = RequestCounter(limit: configuration.maxRequests)
        self.requestCounter = counter
        self.responder = configuration.maxRequests == nil ? responder : CountingResponder(inner: responder, counter: counter)
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoops))
        var loops: [ObjectIdentifier: EventLoopResources] = [:]
        for loop in self.group.makeIterator() {
            loops[ObjectIdentifier(loop)] = EventLoopResources(loop)
        }
        self.loops = loops
        self.shared = SharedState(logger: logger)
        counter.onLimit = { [weak self] count in
            guard let self else { return }
            // At once, so that this very response already closes its connection and no other
            // connection is accepted meanwhile (another worker takes it).
            self.shared.beginDraining()
            self.setAccepting(false)
            self.shared.logger.notice("served \(count) requests (the max-requests limit); shutting down gracefully")
            Task { await self.shutdown() }
        }
    }

    /// How many connections a listener accepts per wake-up of its event loop. With
    /// `maxConnections` set it stays at NIO's 4: accepting pauses only after a batch, and a
    /// batch of 256 could pass the cap by 255.
    static let acceptBatch: UInt = 256

    /// The event loops that serve connections (a supervisor's heartbeat visits each of them).
    public var eventLoopGroup: any EventLoopGroup { self.group }

    /// Runs `body` during `shutdown()`, after the connections have closed and just before the
    /// event loops stop: the last moment to stop work scheduled on them. Each runs in turn, in
    /// the order they were added, and the loops stop after the last one returns.
    public func beforeEventLoopsStop(_ body: @escaping @Sendable () async -> Void) {
        self.loopsStopping.withLock { $0.append(body) }
    }

    /// Connections open now (read by the metrics' open-connections gauge at each scrape).
    public var openConnections: Int { self.connections.count }

    /// Requests handed to the responder so far (counted only when `maxRequests` is set).
    public var requestsServed: Int { self.requestCounter.count }

    /// The addresses the server listens on, with real port numbers where the configuration said 0.
    public var localAddresses: [SocketAddress] {
        self.listeners.withLock { $0.compactMap(\.localAddress) } + self.acceptors.withLock { $0.compactMap(\.localAddress) }
    }

    /// The local addresses of the listeners that speak TLS (a subset of `localAddresses`).
    public var localTLSAddresses: [SocketAddress] { self.tlsAddresses.withLock { $0 } }

    /// Binds every configured address and starts accepting connections.
    public func start() async throws {
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
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture { try self.configure(channel, listener: listener) }
                }
            do {
                try await self.bind(address, listener: listener, bootstrap: bootstrap)
            } catch {
                throw HTTPServerError(address: address, underlying: error)
            }
        }
    }

    private func bind(_ address: BindAddress, listener: Int, bootstrap: ServerBootstrap) async throws {
        do {
            let channel: any Channel
            switch address {
            case .hostPort(let host, let port):
                channel = try await bootstrap.bind(host: host, port: port).get()
            case .unixDomainSocket(let path):
                channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
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
                self.acceptors.withLock { $0.append(acceptor) }
                if self.isTLS(listener), let local = acceptor.localAddress { self.tlsAddresses.withLock { $0.append(local) } }
                self.shared.logger.info(
                    "listening on \(address)\(self.isTLS(listener) ? " (TLS)" : "") (\(acceptor.localAddress?.description ?? "?"))"
                )
                return
            }
            self.listeners.withLock { $0.append(channel) }
            if self.isTLS(listener), let local = channel.localAddress { self.tlsAddresses.withLock { $0.append(local) } }
            self.shared.logger.info(
                "listening on \(address)\(self.isTLS(listener) ? " (TLS)" : "") (\(channel.localAddress?.description ?? "?"))"
            )
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
        if let limit = self.configuration.maxConnections {
            self.admit(channel, limit: limit)
        }
        let sync = channel.pipeline.syncOperations
        let connectionGuard = ConnectionGuardHandler(configuration: self.configuration, loop: loop) { [shared] in shared.drainMode }
        let requestHandler = HTTPRequestHandler(
            configuration: self.configuration,
            responder: self.responder,
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
                responder: self.responder,
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

    /// Counts `channel` against `limit`: pauses accepting when it is reached, resumes when a
    /// connection closes below it.
    private func admit(_ channel: any Channel, limit: Int) {
        let pause = self.admission.withLock { state -> Bool in
            state.open += 1
            guard state.open >= limit, !state.paused else { return false }
            state.paused = true
            return true
        }
        if pause {
            self.shared.logger.info("\(limit) connections open (the worker-connections limit); pausing accepting")
            self.setAccepting(false)
        }
        channel.closeFuture.whenComplete { _ in
            let resume = self.admission.withLock { state -> Bool in
                state.open -= 1
                guard state.paused, state.open < limit else { return false }
                state.paused = false
                return true
            }
            if resume, !self.shared.isDraining {
                self.shared.logger.debug("below the worker-connections limit; accepting again")
                self.setAccepting(true)
            }
        }
    }

    private func setAccepting(_ accepting: Bool) {
        self.acceptors.withLock { $0 }.forEach { $0.setAccepting(accepting) }
        for listener in self.listeners.withLock({ $0 }) {
            listener.setOption(.autoRead, value: accepting).whenFailure { _ in }
            if accepting { listener.read() }
        }
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
        if closingIdle { self.shared.closeIdleConnections() }
        guard !self.shutdownStarted.exchange(true, ordering: .acquiringAndReleasing) else {
            return await self.waitUntilStopped()
        }
        self.shared.beginDraining()
        // Event streams and long polls end now: their handlers return and their bodies end.
        let streams = self.shared.drainSignal.drain()
        for listener in self.listeners.withLock({ $0 }) {
            try? await listener.close()
        }
        for acceptor in self.acceptors.withLock({ $0 }) {
            await acceptor.close()
        }
        let open = self.connections.count
        if open > 0 {
            let seconds = HTTPConnectionStateMachine.describe(self.configuration.gracefulTimeout)
            self.shared.logger.notice(
                "waiting up to \(seconds) for \(open) connection\(open == 1 ? "" : "s") to finish (\(streams) stream\(streams == 1 ? "" : "s") told to end)"
            )
        }
        let stragglers = await self.connections.drain(timeout: self.configuration.gracefulTimeout, on: self.group.next())
        if !stragglers.isEmpty {
            self.shared.logger.warning("graceful timeout passed with \(stragglers.count) connections still busy; closing them")
            for channel in stragglers {
                try? await channel.close()
            }
        }
        for body in self.loopsStopping.withLock({ $0 }) {
            await body()
        }
        try? await self.group.shutdownGracefully()
        let waiters = self.stopped.withLock { stopped in
            stopped.done = true
            defer { stopped.waiters = [] }
            return stopped.waiters
        }
        waiters.forEach { $0.resume() }
    }

    /// Stops at once: closes every open connection, so that a `shutdown()` in progress stops
    /// waiting for them (a second Ctrl-C).
    public func closeAllConnections() {
        self.shared.closeIdleConnections()
        for channel in self.connections.all {
            channel.close(promise: nil)
        }
    }

    /// Waits until `shutdown()` has finished.
    public func waitUntilStopped() async {
        await withCheckedContinuation { continuation in
            let done = self.stopped.withLock { stopped in
                if !stopped.done { stopped.waiters.append(continuation) }
                return stopped.done
            }
            if done { continuation.resume() }
        }
    }
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

/// Counts requests toward `HTTPServerConfiguration.maxRequests` and calls `onLimit` once when
/// the count reaches the limit.
final class RequestCounter: Sendable {
    let limit: Int?
    private let served = Atomic<Int>(0)
    private let callback = Mutex<(@Sendable (Int) -> Void)?>(nil)

    init(limit: Int?) { self.limit = limit }

    var count: Int { self.served.load(ordering: .relaxed) }

    var onLimit: (@Sendable (Int) -> Void)? {
        get { self.callback.withLock { $0 } }
        set { self.callback.withLock { $0 = newValue } }
    }

    func increment() {
        let count = self.served.add(1, ordering: .relaxed).newValue
        if let limit, count == limit { self.onLimit?(count) }
    }
}

/// Counts each request, then lets `inner` answer it.
struct CountingResponder: HTTPResponder {
    let inner: any HTTPResponder
    let counter: RequestCounter

    func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
        self.counter.increment()
        return await self.inner.respond(to: request)
    }
}

/// A `ClientBootstrap` that is only read once configured (`withConnectedSocket` does not
/// change it), so sharing it with the acceptor's thread is safe.
struct ConfiguredBootstrap: @unchecked Sendable {
    let bootstrap: ClientBootstrap
}
