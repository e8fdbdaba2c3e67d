@_exported import CarafeHTTP
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A Carafe application: routes, hooks and error handlers, served by `run()`.
///
///     import Carafe
///     let app = App()
///     app.get("/") { _ in "Hello, World!" }
///     try await app.run()
///
/// Configure the app (routes, settings, blueprints) before it serves; routes registered
/// later are not seen by a running server. Changing a setting takes effect from the next
/// request that starts serving anew (the next `serve`, or the test client's next request).
public final class App: RouteBuilder, @unchecked Sendable {
    /// The app's own blueprint: routes registered on the app go here.
    public let blueprint = Blueprint("")
    /// Show errors' details in 500 responses. Never in production: it shows internals.
    public var debug = false { didSet { self.settingsChanged() } }
    /// The largest request body collected for a handler; larger is answered with 413 (routes
    /// that stream their body, `body: .stream`, have no limit).
    public var maxBodySize = 1 << 20 { didSet { self.settingsChanged() } }
    /// Threads of the pool that runs blocking routes (`blocking: true`).
    public var blockingThreads = max(2, usableCores()) { didSet { self.settingsChanged() } }
    public var logger = Logger(label: "carafe") { didSet { self.settingsChanged() } }
    /// Where one line per request goes (Apache combined format); nil logs none.
    public var accessLog: AccessLog? { didSet { self.settingsChanged() } }
    /// The peers whose forwarded headers (`X-Forwarded-For`, `-Proto`, `-Host`, `-Port`,
    /// `-Prefix`, `Forwarded`) are believed: a reverse proxy's address. Gunicorn's
    /// `--forwarded-allow-ips`; by default `127.0.0.1,::1`, a proxy on this machine. Unix socket
    /// peers are always trusted. `*` trusts every peer: only when nothing but the proxy can
    /// reach the server, as any client could otherwise claim any address.
    public var forwardedAllowIPs = TrustedAddresses.localhost { didSet { self.settingsChanged() } }
    /// A path answered before routing, for a load balancer's or Kubernetes' probes
    /// (`--health-path`): `GET /healthz` is `200 ready` while `isReady`, else `503 draining`
    /// (readiness); `GET /healthz/live` is `200 alive` while the process serves (liveness).
    /// Nil: none.
    public var healthPath: String? { didSet { self.settingsChanged() } }
    /// Whether the health path answers ready. `serve` sets it false on SIGTERM, for the
    /// `--drain-delay` before it stops; an app may set it false itself (while it warms up).
    public var isReady: Bool {
        get { self.readiness.isReady }
        set { self.readiness.isReady = newValue }
    }
    let readiness = Readiness(true)
    /// How long `serve` goes on serving after SIGTERM, answering the health path 503, before it
    /// stops gracefully (`--drain-delay`): the load balancer's probe interval, so that it has
    /// stopped sending by then. Zero (the default) stops at once.
    public var drainDelay: Duration = .zero
    /// Values that extensions (a database, say) attach to the app by name, as Flask's
    /// `app.extensions`; handlers read them as `req.appExtensions`.
    public var extensions: [String: any Sendable] = [:] { didSet { self.settingsChanged() } }
    /// The backend `serve --metrics-bind` starts (`CarafeMetrics`' `PrometheusExporter`); nil: none.
    public var metricsExporter: (any MetricsExporter)?
    /// Record request metrics through swift-metrics (`RequestMetrics`): on with
    /// `--metrics-bind`; set it yourself when you bootstrap another swift-metrics backend.
    public var recordsMetrics = false { didSet { self.settingsChanged() } }
    /// Start and stop hooks, and extra commands (see App+Lifecycle.swift).
    let lifecycle = AppLifecycle()

    private let running = Mutex<AppServices?>(nil)

    public init() {}

    /// Forgets the services made from the old settings; the next use makes them anew. A server
    /// already running keeps the ones it started with.
    private func settingsChanged() {
        self.running.withLock { $0 = nil }
    }

    /// What serving needs, made from the configuration on first use and kept from then on.
    var services: AppServices {
        self.running.withLock { services in
            if let services { return services }
            let made = AppServices(
                routes: RouteTable(self.blueprint.resolvedRoutes()),
                root: self.blueprint,
                debug: self.debug,
                logger: self.logger,
                accessLog: self.accessLog,
                extensions: self.extensions,
                maxBodySize: self.maxBodySize,
                blockingThreads: self.blockingThreads,
                forwardedAllowIPs: self.forwardedAllowIPs,
                healthPath: self.healthPath,
                readiness: self.readiness,
                metrics: self.recordsMetrics ? RequestMetrics() : nil
            )
            services = made
            return made
        }
    }

    /// Every route, as registered (the `routes` command prints them).
    public var routes: [Route] { self.services.routes.all }

    /// The path of the named route (see `Request.url(for:)`).
    public func url(for name: String, _ parameters: [String: String] = [:], query: [(String, String)] = []) throws -> String {
        try self.services.routes.url(for: name, parameters, query: query)
    }
}

/// Whether the app answers its readiness probe with 200 (see `App.isReady`); shared by the
/// app and the services made from it.
final class Readiness: Sendable {
    private let ready: Atomic<Bool>
    init(_ ready: Bool) { self.ready = Atomic(ready) }
    var isReady: Bool {
        get { self.ready.load(ordering: .relaxed) }
        set { self.ready.store(newValue, ordering: .relaxed) }
    }
}

/// The parts of a configured app that serving uses. Immutable once made.
final class AppServices: Sendable {
    let routes: RouteTable
    let root: Blueprint
    let debug: Bool
    let logger: Logger
    let accessLog: AccessLog?
    let extensions: [String: any Sendable]
    let maxBodySize: Int
    let blockingPool: NIOThreadPool
    let forwardedAllowIPs: TrustedAddresses
    let healthPath: String?
    let readiness: Readiness
    /// What requests record, when metrics are on.
    let metrics: RequestMetrics?

    init(
        routes: RouteTable,
        root: Blueprint,
        debug: Bool,
        logger: Logger,
        accessLog: AccessLog?,
        extensions: [String: any Sendable],
        maxBodySize: Int,
        blockingThreads: Int,
        forwardedAllowIPs: TrustedAddresses = .localhost,
        healthPath: String? = nil,
        readiness: Readiness = Readiness(true),
        metrics: RequestMetrics? = nil
    ) {
        self.routes = routes
        self.root = root
        self.debug = debug
        self.logger = logger
        self.accessLog = accessLog
        self.extensions = extensions
        self.maxBodySize = maxBodySize
        self.forwardedAllowIPs = forwardedAllowIPs
        self.healthPath = healthPath
        self.readiness = readiness
        self.metrics = metrics
        self.blockingPool = NIOThreadPool(numberOfThreads: blockingThreads)
        self.blockingPool.start()
    }

    deinit {
        self.blockingPool.shutdownGracefully { _ in }
    }
}

extension App {
    /// Answers one request without a socket, the way the server does once it has read it.
    /// The test client and embedders use this; `serve()` is the usual way in.
    public func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
        await AppResponder(services: self.services).respond(to: request)
    }
}
