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
            let made = AppServices(routes: routes, settings: state.settings, storage: self.storage, readiness: self.readiness)
            state.services = made
            return made
        }
    }

    /// Whether the services (the blocking thread pool among them) exist: only once the app serves.
    package var hasStartedServices: Bool { self.state.withLock { $0.services != nil } }

    /// What the server calls for each request it has read (freezes the app and starts its services).
    package var responder: any HTTPResponder { AppResponder(services: self.services) }

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
    var logger = Logger(label: "carafe")
    var accessLog: AccessLog?
    var forwardedAllowIPs = TrustedAddresses.localhost
    var healthPath: String?
    var drainDelay: Duration = .zero
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

    init(routes: RouteTable, settings: AppSettings, storage: Storage = Storage(), readiness: Readiness = Readiness(true)) {
        self.routes = routes
        self.debug = settings.debug
        self.logger = settings.logger
        self.accessLog = settings.accessLog
        self.storage = storage
        self.maxBodySize = settings.maxBodySize
        self.forwardedAllowIPs = settings.forwardedAllowIPs
        self.healthPath = settings.healthPath
        self.readiness = readiness
        self.workerClass = settings.workerClass
        self.blockingPool = BlockingPool(threads: settings.blockingThreads, queueLimit: settings.threadQueueLimit, limitName: "--thread-queue-limit")
    }
}

extension App {
    /// Answers one request without a socket, the way the server does once it has read it.
    /// The test client and embedders use this; `serve()` is the usual way in.
    public func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
        await AppResponder(services: self.services).respond(to: request)
    }
}
