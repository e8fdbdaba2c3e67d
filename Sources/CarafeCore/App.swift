@_exported import CarafeHTTP
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Tracing

/// A Carafe application: routes, hooks and error handlers, served by `run()`.
///
///     import Carafe
///     let app = App()
///     app.get("/") { _ in "Hello, World!" }
///     try await app.run()
///
/// Configure the app (settings, routes, hooks, blueprints) first: it freezes at its first use
/// (the first request it answers, `serve`, `app.routes` or `app.url(for:)`), as a Flask app
/// does after its first request. From then on its routes and settings are fixed, so every
/// request sees the same app; registering a route or changing a setting afterwards is a
/// programmer error that stops the process with a message naming it. `isReady` and `storage`
/// stay writable.
public final class App: RouteBuilder, Sendable {
    /// The app's own blueprint: routes registered on the app go here.
    public let blueprint = Blueprint("")
    /// Values that extensions (a database, templates, a cache) attach to the app, by typed key
    /// (Flask's `app.extensions`); handlers read them as `req.appStorage`.
    public let storage = Storage()
    /// Show errors' details in 500 responses. Never in production: it shows internals.
    public var debug: Bool {
        get { self.settings.debug }
        set { self.configure("debug") { $0.debug = newValue } }
    }
    /// The largest request body collected for a handler; larger is answered with 413 (routes
    /// that stream their body, `body: .stream`, have no limit).
    public var maxBodySize: Int {
        get { self.settings.maxBodySize }
        set { self.configure("maxBodySize") { $0.maxBodySize = newValue } }
    }
    /// Threads of the pool that runs blocking routes (`blocking: true`), and every route under
    /// the `threads` worker class (`--threads`).
    public var blockingThreads: Int {
        get { self.settings.blockingThreads }
        set { self.configure("blockingThreads") { $0.blockingThreads = newValue } }
    }
    /// Where routes that do not say `blocking:` run (`--worker-class`, Gunicorn's `-k`): on the
    /// event loop (`.async`, the default) or on the thread pool (`.threads`).
    public var workerClass: WorkerClass {
        get { self.settings.workerClass }
        set { self.configure("workerClass") { $0.workerClass = newValue } }
    }
    /// Jobs that may wait for a thread of that pool before a new request for it is answered
    /// 503 with `Retry-After` at once (`--thread-queue-limit`; default 1024).
    public var threadQueueLimit: Int {
        get { self.settings.threadQueueLimit }
        set { self.configure("threadQueueLimit") { $0.threadQueueLimit = newValue } }
    }
    /// The app's log: by default to standard error, through `FileLogHandler`, which escapes
    /// control characters so that user input in a message cannot forge a line.
    public var logger: Logger {
        get { self.settings.logger }
        set { self.configure("logger") { $0.logger = newValue } }
    }
    /// Where one line per request goes (Apache combined format); nil logs none.
    public var accessLog: AccessLog? {
        get { self.settings.accessLog }
        set { self.configure("accessLog") { $0.accessLog = newValue } }
    }
    /// The peers whose forwarded headers (`X-Forwarded-For`, `-Proto`, `-Host`, `-Port`,
    /// `-Prefix`, `Forwarded`) are believed: a reverse proxy's address. Gunicorn's
    /// `--forwarded-allow-ips`; by default `127.0.0.1,::1`, a proxy on this machine. Unix socket
    /// peers are always trusted. `*` trusts every peer: only when nothing but the proxy can
    /// reach the server, as any client could otherwise claim any address.
    public var forwardedAllowIPs: TrustedAddresses {
        get { self.settings.forwardedAllowIPs }
        set { self.configure("forwardedAllowIPs") { $0.forwardedAllowIPs = newValue } }
    }
    /// Which forwarded headers a trusted peer is believed for (`--forwarded-headers`): by default
    /// `X-Forwarded-For`, `-Proto`, `-Host` and `-Port`; `Forwarded` and `X-Forwarded-Prefix`
    /// only when turned on here, since a proxy that does not set (or clear) them passes a
    /// client's own through. See docs/security.md.
    public var forwardedHeaders: TrustedForwardedHeaders {
        get { self.settings.forwardedHeaders }
        set { self.configure("forwardedHeaders") { $0.forwardedHeaders = newValue } }
    }
    /// The host names the app answers for (`--allowed-hosts`, Django's `ALLOWED_HOSTS`): a
    /// request whose host (`Host`, or a trusted proxy's `X-Forwarded-Host`) is not one of them
    /// gets 400 before its body, hooks and handler, so that a made-up host never reaches
    /// `url(for:external:)`, a password-reset mail or a cache. Nil (the default) allows every
    /// host. See `AllowedHosts`.
    public var allowedHosts: AllowedHosts? {
        get { self.settings.allowedHosts }
        set { self.configure("allowedHosts") { $0.allowedHosts = newValue } }
    }
    /// The pages that may open the app's WebSocket routes, for those that do not pass their own
    /// `origins:` (`--websocket-allowed-origins`, `$CARAFE_WEBSOCKET_ALLOWED_ORIGINS`): by
    /// default (`.default`) a handshake that carries cookies must come from the app's own
    /// origin, else 403, which stops cross-site WebSocket hijacking. List the other origins
    /// that may connect (a front end on another port, an admin host) here once for the app.
    /// See `WebSocketOrigins` and docs/security.md.
    public var webSocketOrigins: WebSocketOrigins {
        get { self.settings.webSocketOrigins }
        set { self.configure("webSocketOrigins") { $0.webSocketOrigins = newValue } }
    }
    /// Headers added to responses that do not set them: `X-Content-Type-Options: nosniff` on
    /// all, `X-Frame-Options` and `Content-Security-Policy: frame-ancestors` on HTML, so that
    /// a page's forms cannot be framed by another site (clickjacking). `.none` adds nothing.
    public var securityHeaders: SecurityHeaders {
        get { self.settings.securityHeaders }
        set { self.configure("securityHeaders") { $0.securityHeaders = newValue } }
    }
    /// A path answered before routing, for a load balancer's or Kubernetes' probes
    /// (`--health-path`): `GET /healthz` is `200 ready` while `isReady`, else `503 draining`
    /// (readiness); `GET /healthz/live` is `200 alive` while the process serves (liveness).
    /// Nil: none.
    public var healthPath: String? {
        get { self.settings.healthPath }
        set { self.configure("healthPath") { $0.healthPath = newValue } }
    }
    /// Whether the health path answers ready. `serve` sets it false on SIGTERM, for the
    /// `--drain-delay` before it stops; an app may set it false itself (while it warms up).
    public var isReady: Bool {
        get { self.readiness.isReady }
        set { self.readiness.isReady = newValue }
    }
    package let readiness = Readiness(true)
    /// How long `serve` goes on serving after SIGTERM, answering the health path 503, before it
    /// stops gracefully (`--drain-delay`): the load balancer's probe interval, so that it has
    /// stopped sending by then. Zero (the default) stops at once.
    public var drainDelay: Duration {
        get { self.settings.drainDelay }
        set { self.configure("drainDelay") { $0.drainDelay = newValue } }
    }
    /// The app's settings, from defaults, a config file, `.env` and the environment (see `AppConfig`).
    public let config = AppConfig()
    /// The JSON encoder of every JSON response made from a value (`Content`, `JSON`): set its
    /// strategies once for the whole app, `app.jsonEncoder.dateEncodingStrategy = .iso8601`,
    /// before serving.
    public var jsonEncoder: JSONEncoder {
        get { self.settings.jsonEncoder }
        set { self.configure("jsonEncoder") { $0.jsonEncoder = newValue } }
    }
    /// The JSON decoder of `req.decode` (and of validated decoding), for the whole app:
    /// `app.jsonDecoder.keyDecodingStrategy = .convertFromSnakeCase`, before serving.
    public var jsonDecoder: JSONDecoder {
        get { self.settings.jsonDecoder }
        set { self.configure("jsonDecoder") { $0.jsonDecoder = newValue } }
    }
    /// Record request metrics through swift-metrics (`RequestMetrics`): `serve --metrics-bind`
    /// turns it on; set it yourself when you bootstrap another swift-metrics backend.
    public var recordsMetrics: Bool {
        get { self.settings.recordsMetrics }
        set { self.configure("recordsMetrics") { $0.recordsMetrics = newValue } }
    }
    /// The tracer of the app's request spans (`RequestTracing`); nil (the default) uses the one
    /// bootstrapped with `InstrumentationSystem.bootstrap`, read when the app first serves, so
    /// bootstrap it before `app.run()`. With neither, requests start no span and pay nothing.
    public var tracer: (any Tracer)? {
        get { self.settings.tracer }
        set { self.configure("tracer") { $0.tracer = newValue } }
    }
    /// Where request spans take their parent from (`traceparent`): trusted peers only by
    /// default (`TraceContextSource`).
    public var traceContextFrom: TraceContextSource {
        get { self.settings.traceContextFrom }
        set { self.configure("traceContextFrom") { $0.traceContextFrom = newValue } }
    }
    /// Start and stop hooks, and extra commands (see App+Lifecycle.swift).
    package let lifecycle = AppLifecycle()

    private struct State {
        var settings = AppSettings()
        /// Set when the app freezes.
        var routes: RouteTable?
        /// Made when the app first serves: the thread pool, the route table and the settings.
        var services: AppServices?
    }

    private let state = Mutex(State())

    public init() {}

    /// The settings as they are now.
    var settings: AppSettings { self.state.withLock { $0.settings } }

    /// Changes a setting, unless the app has frozen.
    private func configure(_ name: String, _ change: (inout AppSettings) -> Void) {
        self.state.withLock { state in
            precondition(
                state.routes == nil,
                "App.\(name) was changed after the app froze (at its first request, `serve`, `app.routes` or `app.url(for:)`): configure the app before it serves"
            )
            change(&state.settings)
        }
    }

    /// The route table, made (freezing the app and its blueprints) on first use.
    var frozenRoutes: RouteTable {
        self.state.withLock { state in
            if let routes = state.routes { return routes }
            let routes = RouteTable(self.blueprint.freeze(), root: self.blueprint.hooks)
            state.routes = routes
            return routes
        }
    }

    /// What serving needs, made from the frozen configuration on first use and kept from then on.
    var services: AppServices {
        let routes = self.frozenRoutes
        return self.state.withLock { state in
            if let services = state.services { return services }
            let made = AppServices(
                routes: routes,
                settings: state.settings,
                storage: self.storage,
                readiness: self.readiness,
                tasks: self.lifecycle.tasks
            )
            state.services = made
            return made
        }
    }

    /// Whether the services (the blocking thread pool among them) exist: only once the app serves.
    package var hasStartedServices: Bool { self.state.withLock { $0.services != nil } }

    /// What the server calls for each request it has read (freezes the app and starts its services).
    package var responder: any HTTPResponder { AppResponder(services: self.services) }

    /// Sets the metrics' gauges that are read rather than counted (open connections, the
    /// blocking pool's queue), before a scrape or a worker's report.
    package func refreshMetrics(from server: HTTPServer) {
        guard let services = self.state.withLock({ $0.services }), let metrics = services.metrics else { return }
        metrics.refresh(from: server, pool: services.blockingPool)
    }

    /// Every route, as registered (the `routes` command prints them). Freezes the app.
    public var routes: [Route] { self.frozenRoutes.all }

    /// The path of the named route (see `Request.url(for:)`). Freezes the app.
    public func url(for name: String, _ parameters: [String: String] = [:], query: [(String, String)] = []) throws -> String {
        try self.frozenRoutes.url(for: name, parameters, query: query)
    }
}

/// An app's settings (see `App`'s properties of the same names).
struct AppSettings: Sendable {
    var debug = false
    var maxBodySize = 1 << 20
    var blockingThreads = max(2, usableCores())
    var workerClass = WorkerClass.async
    var threadQueueLimit = 1024
    var logger = Logger(label: "carafe", factory: { FileLogHandler(label: $0, file: .standardError) })
    var accessLog: AccessLog?
    var forwardedAllowIPs = TrustedAddresses.localhost
    var forwardedHeaders = TrustedForwardedHeaders.default
    var allowedHosts: AllowedHosts?
    var webSocketOrigins = WebSocketOrigins.default
    var securityHeaders = SecurityHeaders()
    var healthPath: String?
    var drainDelay: Duration = .zero
    var jsonEncoder = JSONEncoder()
    var jsonDecoder = JSONDecoder()
    var recordsMetrics = false
    var tracer: (any Tracer)?
    var traceContextFrom = TraceContextSource.trustedPeers
}

/// Whether the app answers its readiness probe with 200 (see `App.isReady`); shared by the
/// app and the services made from it.
package final class Readiness: Sendable {
    private let ready: Atomic<Bool>
    init(_ ready: Bool) { self.ready = Atomic(ready) }
    package var isReady: Bool {
        get { self.ready.load(ordering: .relaxed) }
        set { self.ready.store(newValue, ordering: .relaxed) }
    }
}

/// The parts of a frozen app that serving uses. Immutable once made.
final class AppServices: Sendable {
    let routes: RouteTable
    let debug: Bool
    let logger: Logger
    let accessLog: AccessLog?
    let storage: Storage
    let maxBodySize: Int
    /// Runs `blocking: true` routes, and all routes under the `threads` worker class.
    let blockingPool: BlockingPool
    let workerClass: WorkerClass
    let forwardedAllowIPs: TrustedAddresses
    let healthPath: String?
    let readiness: Readiness
    let forwardedHeaders: TrustedForwardedHeaders
    let allowedHosts: AllowedHosts?
    let webSocketOrigins: WebSocketOrigins
    let securityHeaders: SecurityHeaders
    let jsonEncoder: JSONEncoder
    let jsonDecoder: JSONDecoder
    /// What requests record, when metrics are on.
    let metrics: RequestMetrics?
    /// Request spans, when a tracer is there.
    let tracing: RequestTracing?
    /// Work that outlives a request's task (teardown hooks of a response whose producer never
    /// started): serving waits for it before the stop hooks run.
    let tasks: OwnedTasks

    init(
        routes: RouteTable,
        settings: AppSettings,
        storage: Storage = Storage(),
        readiness: Readiness = Readiness(true),
        tasks: OwnedTasks = OwnedTasks()
    ) {
        self.tasks = tasks
        self.routes = routes
        self.debug = settings.debug
        self.logger = settings.logger
        self.accessLog = settings.accessLog
        self.storage = storage
        self.maxBodySize = settings.maxBodySize
        self.forwardedAllowIPs = settings.forwardedAllowIPs
        self.healthPath = settings.healthPath
        self.readiness = readiness
        self.forwardedHeaders = settings.forwardedHeaders
        self.allowedHosts = settings.allowedHosts
        self.webSocketOrigins = settings.webSocketOrigins
        self.securityHeaders = settings.securityHeaders
        self.jsonEncoder = settings.jsonEncoder
        self.jsonDecoder = settings.jsonDecoder
        self.workerClass = settings.workerClass
        self.metrics = settings.recordsMetrics ? RequestMetrics() : nil
        self.tracing = RequestTracing(tracer: settings.tracer, source: settings.traceContextFrom)
        self.blockingPool = BlockingPool(
            threads: settings.blockingThreads,
            queueLimit: settings.threadQueueLimit,
            limitName: "--thread-queue-limit"
        )
    }
}

extension App: HTTPResponder {
    /// Answers one request without a socket, the way the server does once it has read it.
    /// The test client and embedders use this (an `HTTPServer` can serve the app directly);
    /// `serve()` is the usual way in.
    public func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
        await AppResponder(services: self.services).respond(to: request)
    }
}
