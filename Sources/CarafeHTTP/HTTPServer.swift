import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP/1.1 server on SwiftNIO that hands complete requests to an `HTTPResponder`.
///
/// Lifecycle: `start()` binds every address of the configuration; `shutdown()` stops
/// accepting, closes idle keep-alive connections, lets in-flight requests finish (each gets
/// `Connection: close`) for up to `gracefulTimeout`, then stops the event loops.
public final class HTTPServer: Sendable {
    /// State shared by all connections of one server.
    final class SharedState: Sendable {
        let logger: Logger
        private let draining = Atomic<Bool>(false)

        init(logger: Logger) { self.logger = logger }

        /// True once a graceful shutdown has begun: responses then close their connections.
        var isDraining: Bool { self.draining.load(ordering: .relaxed) }
        func beginDraining() { self.draining.store(true, ordering: .relaxed) }
    }

    public let configuration: HTTPServerConfiguration
    private let responder: any HTTPResponder
    private let group: MultiThreadedEventLoopGroup
    private let loops: [ObjectIdentifier: EventLoopResources]
    private let shared: SharedState
    private let connections = ConnectionRegistry()
    private let listeners = Mutex<[any Channel]>([])
    /// Whether `shutdown()` has finished, and who waits for it to.
    private let stopped = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoops))
        var loops: [ObjectIdentifier: EventLoopResources] = [:]
        for loop in self.group.makeIterator() {
            loops[ObjectIdentifier(loop)] = EventLoopResources(loop)
        }
        self.loops = loops
        self.shared = SharedState(logger: logger)
    }

    /// The addresses the server listens on, with real port numbers where the configuration said 0.
    public var localAddresses: [SocketAddress] {
        self.listeners.withLock { $0.compactMap(\.localAddress) }
    }

    /// Binds every configured address and starts accepting connections.
    public func start() async throws {
        let bootstrap = ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.configure(channel) }
            }
        for address in self.configuration.bind {
            let channel: any Channel
            switch address {
            case .hostPort(let host, let port):
                channel = try await bootstrap.bind(host: host, port: port).get()
            case .unixDomainSocket(let path):
                channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            }
            self.listeners.withLock { $0.append(channel) }
            self.shared.logger.info("listening on \(address) (\(channel.localAddress?.description ?? "?"))")
        }
    }

    private func configure(_ channel: any Channel) throws {
        guard let loop = self.loops[ObjectIdentifier(channel.eventLoop)] else {
            preconditionFailure("a connection on an event loop that is not the server's")
        }
        var limits = NIOHTTPDecoderLimitConfiguration()
        // The parser stops hostile heads early; `HTTPRequestHandler` then checks the exact limits
        // so that the answer can say which one was broken.
        limits.maxHeaderFieldCount = self.configuration.maxHeaderFields
        limits.maxHeaderFieldSize = max(self.configuration.maxHeaderFieldSize, self.configuration.maxRequestLine) * 8
        limits.maxHeaderListSize = max(80 * 1024, limits.maxHeaderFieldSize)
        self.connections.add(channel)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(
            ConnectionTimeoutHandler(
                keepAliveTimeout: self.configuration.keepAliveTimeout,
                requestHeaderTimeout: self.configuration.requestHeaderTimeout
            )
        )
        try sync.configureHTTPServerPipeline(
            withPipeliningAssistance: true,
            withErrorHandling: false,
            withOutboundHeaderValidation: true,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: limits
        )
        try sync.addHandler(
            HTTPRequestHandler(configuration: self.configuration, responder: self.responder, loop: loop, server: self.shared)
        )
    }

    /// Shuts down gracefully: see the type's description. Returns once every connection has
    /// closed or `gracefulTimeout` has passed, and the event loops have stopped.
    public func shutdown() async {
        self.shared.beginDraining()
        for listener in self.listeners.withLock({ $0 }) {
            try? await listener.close()
        }
        let stragglers = await self.connections.drain(timeout: self.configuration.gracefulTimeout, on: self.group.next())
        if !stragglers.isEmpty {
            self.shared.logger.warning("graceful timeout passed with \(stragglers.count) connections still busy; closing them")
            for channel in stragglers {
                try? await channel.close()
            }
        }
        try? await self.group.shutdownGracefully()
        let waiters = self.stopped.withLock { stopped in
            stopped.done = true
            defer { stopped.waiters = [] }
            return stopped.waiters
        }
        waiters.forEach { $0.resume() }
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
