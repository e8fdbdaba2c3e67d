import Synchronization

/// A group of routes with a common prefix, their own hooks and their own error handlers
/// (Flask's blueprint), registered on an app or on another blueprint.
///
///     let api = Blueprint("api", prefix: "/api")
///     api.before { req in req.headers["x-token"].isEmpty ? Response(status: .unauthorized) : nil }
///     api.get("/users/:id", name: "user") { req in ... }       // named "api.user"
///     app.register(api)
///
/// Hooks and error handlers of a blueprint apply to its own routes and those of the
/// blueprints registered on it. A blueprint freezes with the app it is registered on; adding
/// to it afterwards is a programmer error, as on the app.
public final class Blueprint: RouteBuilder, Sendable {
    typealias BeforeHook = @Sendable (Request) async throws -> Response?
    typealias AfterHook = @Sendable (Request, Response) async throws -> Response
    typealias TeardownHook = @Sendable (Request, (any Error)?) async -> Void

    /// An error handler and the errors it is for.
    struct ErrorHandler: Sendable {
        let handles: @Sendable (any Error) -> Bool
        let handle: @Sendable (Request, any Error) async throws -> Response
    }

    /// A route as registered here, relative to this blueprint.
    struct LocalRoute: Sendable {
        let method: HTTPMethod
        let pattern: RoutePattern
        let name: String?
        let body: RequestBodyStrategy
        let blocking: Bool?
        let timeout: Duration?
        /// Run before the body is read (`authorize:`); nil: none.
        var authorize: BeforeHook? = nil
        let handler: Route.Handler
    }

    /// A blueprint's hooks and error handlers as they were when the app froze: what serving reads.
    struct Hooks: Sendable {
        var before: [BeforeHook] = []
        var after: [AfterHook] = []
        var teardown: [TeardownHook] = []
        var errorHandlers: [ErrorHandler] = []
        /// Run before the body is read; the app's own only (`App.beforeBody`).
        var beforeBody: [@Sendable (Request) throws -> Void] = []
        /// Run before the body is read, and may refuse the request (`authorize(_:)`).
        var authorize: [BeforeHook] = []
        /// The format of its default error responses (`errorFormat(_:)`), if it sets one.
        var errorFormat: ErrorFormat?
        /// Its CORS policy (`cors(_:)`), if it has one.
        var cors: CORS?
        /// The handler deadline of its routes (`timeout(_:)`), if it sets one.
        var timeout: Duration?
    }

    /// Everything registered here, until the app freezes.
    struct Registrations {
        var routes: [LocalRoute] = []
        var children: [Blueprint] = []
        var hooks = Hooks()
        var frozen = false
    }

    public let name: String
    public let prefix: RoutePattern
    private let registrations = Mutex(Registrations())

    /// - Parameters:
    ///   - name: prefixes the names of its routes (`name.route`); "" adds none.
    ///   - prefix: prefixes the paths of its routes.
    public init(_ name: String, prefix: String = "") {
        self.name = name
        self.prefix = RoutePattern(prefix)
    }

    public var blueprint: Blueprint { self }

    /// Adds to the registrations, unless the app has frozen: `what` names the addition in the
    /// message that stops the process.
    func register(_ what: @autoclosure () -> String, _ change: (inout Registrations) -> Void) {
        self.registrations.withLock { registrations in
            precondition(
                !registrations.frozen,
                "\(what()) was registered after the app froze (at its first request, `serve`, `app.routes` or `app.url(for:)`): register every route, hook and blueprint before the app serves"
            )
            change(&registrations)
        }
    }

    /// The hooks and error handlers registered here.
    var hooks: Hooks { self.registrations.withLock { $0.hooks } }

    /// Freezes this blueprint and its children and returns their routes, with full patterns and
    /// names, under `parents` (the blueprints above it, outermost first).
    func freeze(under parents: [(Blueprint, Hooks)] = []) -> [Route] {
        let (routes, children, hooks) = self.registrations.withLock { registrations in
            registrations.frozen = true
            return (registrations.routes, registrations.children, registrations.hooks)
        }
        let chain = parents + [(self, hooks)]
        let prefix = chain.reduce(RoutePattern(segments: [])) { $1.0.prefix.prefixed(by: $0) }
        let namePrefix = chain.map(\.0.name).filter { !$0.isEmpty }.joined(separator: ".")
        // The innermost blueprint that sets a timeout, for routes that set none.
        let inherited = chain.last(where: { $0.1.timeout != nil }).map { blueprint, hooks in
            (timeout: hooks.timeout!, origin: blueprint.name.isEmpty ? "the app's timeout" : "the timeout of blueprint '\(blueprint.name)'")
        }
        let own = routes.map { local in
            Route(
                method: local.method,
                pattern: local.pattern.prefixed(by: prefix),
                name: local.name.map { namePrefix.isEmpty ? $0 : "\(namePrefix).\($0)" },
                body: local.body,
                blocking: local.blocking,
                timeout: local.timeout,
                handlerDeadline: local.timeout.map {
                    (timeout: $0, origin: "the timeout of route \(local.method.rawValue) \(local.pattern.prefixed(by: prefix))")
                } ?? inherited,
                authorize: local.authorize,
                handler: local.handler,
                blueprints: chain.map(\.0),
                hooks: chain.map(\.1)
            )
        }
        return own + children.flatMap { $0.freeze(under: chain) }
    }
}

/// The registration API shared by `App` and `Blueprint`: routes, hooks, error handlers.
public protocol RouteBuilder {
    /// Where registrations go.
    var blueprint: Blueprint { get }
}

extension RouteBuilder {
    /// Registers `handler` for `method` and `path`. `path` may hold `:name` parameters and a
    /// trailing `*name` catch-all; `name` makes the route reachable by `url(for:)`; `body` says
    /// whether the request body is collected first (the default) or streamed to the handler.
    ///
    /// `blocking` says where the route's hooks and handler run: `true` for code that blocks its
    /// thread (file I/O, a C library, heavy computation): on the app's bounded thread pool
    /// (`App.blockingThreads`), so that it cannot stall the event loop; `false` on the event
    /// loop, whatever the worker class; nil (not said) as the worker class says
    /// (`--worker-class async`, the default: the loop; `threads`: the pool).
    ///
    /// `timeout` is the route's handler deadline: if the hooks and handler have not started a
    /// response that long after the request head arrived, their task is cancelled and the
    /// client gets 503 with `Retry-After`, naming the route. It wins over a blueprint's
    /// `timeout(_:)` and the app-wide `--handler-timeout`, longer or shorter; a response that
    /// has started (a streamed body) is not cut short by it.
    ///
    /// `authorize` runs once the request's head is in, before its body is read (see
    /// `authorize(_:)`): returning a response, or throwing, refuses the request without reading
    /// or buffering the body, so that a client without the right to upload cannot make the
    /// server take in a body at all.
    ///
    ///     app.post("/upload", body: .stream, authorize: { req in
    ///         req.headers.first(name: "x-api-key") == key ? nil : Response(status: .unauthorized)
    ///     }) { req in … }
    @discardableResult
    public func on<R: ResponseEncodable>(
        _ method: HTTPMethod,
        _ path: String,
        name: String? = nil,
        body: RequestBodyStrategy = .collect,
        blocking: Bool? = nil,
        timeout: Duration? = nil,
        authorize: (@Sendable (Request) async throws -> Response?)? = nil,
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) -> Self {
        if let timeout { precondition(timeout > .zero, "route \(method.rawValue) \(path): the timeout must be positive, not \(timeout)") }
        let route = Blueprint.LocalRoute(
            method: method,
            pattern: RoutePattern(path),
            name: name,
            body: body,
            blocking: blocking,
            timeout: timeout,
            authorize: authorize
        ) { request in
            try await handler(request).makeResponse(for: request)
        }
        self.blueprint.register("route \(method.rawValue) \(path)") { $0.routes.append(route) }
        return self
    }

    @discardableResult
    public func get<R: ResponseEncodable>(
        _ path: String,
        name: String? = nil,
        blocking: Bool? = nil,
        timeout: Duration? = nil,
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) -> Self {
        self.on(.GET, path, name: name, blocking: blocking, timeout: timeout, handler)
    }

    @discardableResult
    public func post<R: ResponseEncodable>(
        _ path: String,
        name: String? = nil,
        body: RequestBodyStrategy = .collect,
        blocking: Bool? = nil,
        timeout: Duration? = nil,
        authorize: (@Sendable (Request) async throws -> Response?)? = nil,
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) -> Self {
        self.on(.POST, path, name: name, body: body, blocking: blocking, timeout: timeout, authorize: authorize, handler)
    }

    @discardableResult
    public func put<R: ResponseEncodable>(
        _ path: String,
        name: String? = nil,
        body: RequestBodyStrategy = .collect,
        blocking: Bool? = nil,
        timeout: Duration? = nil,
        authorize: (@Sendable (Request) async throws -> Response?)? = nil,
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) -> Self {
        self.on(.PUT, path, name: name, body: body, blocking: blocking, timeout: timeout, authorize: authorize, handler)
    }

    @discardableResult
    public func patch<R: ResponseEncodable>(
        _ path: String,
        name: String? = nil,
        body: RequestBodyStrategy = .collect,
        blocking: Bool? = nil,
        timeout: Duration? = nil,
        authorize: (@Sendable (Request) async throws -> Response?)? = nil,
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) -> Self {
        self.on(.PATCH, path, name: name, body: body, blocking: blocking, timeout: timeout, authorize: authorize, handler)
    }

    @discardableResult
    public func delete<R: ResponseEncodable>(
        _ path: String,
        name: String? = nil,
        blocking: Bool? = nil,
        timeout: Duration? = nil,
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) -> Self {
        self.on(.DELETE, path, name: name, blocking: blocking, timeout: timeout, handler)
    }

    /// Sets the handler deadline of this blueprint's routes, and of the blueprints registered
    /// on it that set none: a route's own `timeout:` wins, and on the app it applies to every
    /// route, in place of `--handler-timeout`. See `on(_:_:timeout:)` for what happens.
    @discardableResult
    public func timeout(_ limit: Duration) -> Self {
        precondition(limit > .zero, "the timeout of blueprint '\(self.blueprint.name)' must be positive, not \(limit)")
        self.blueprint.register("a timeout") { $0.hooks.timeout = limit }
        return self
    }

    /// Runs before each request's handler, in registration order (the app's before a
    /// blueprint's). Returning a response skips the handler and the later before-hooks.
    @discardableResult
    public func before(_ hook: @escaping @Sendable (Request) async throws -> Response?) -> Self {
        self.blueprint.register("a before-hook") { $0.hooks.before.append(hook) }
        return self
    }

    /// Runs for each request to this app's or blueprint's routes as soon as its head is in,
    /// before the body is read (collected, parsed as a form, or streamed), and before the
    /// before-hooks: returning a response (a 401, a 403) or throwing refuses the request, and its
    /// body is never read. For the checks that need only the head (a session cookie, an API key,
    /// a token, the client's address), so that a client may not send a large body to a route it
    /// may not use: the connection then follows the server's early-response rules (a body of up
    /// to `--max-discarded-body` on its way is read and dropped, past that the connection is
    /// closed; a client that sent `Expect: 100-continue` never gets its `100 Continue`).
    /// Outer blueprints' run first, then the route's own `authorize:`.
    ///
    ///     let admin = Blueprint("admin", prefix: "/admin")
    ///     admin.authorize { req in req.session["user"] == nil ? Response(status: .unauthorized) : nil }
    @discardableResult
    public func authorize(_ hook: @escaping @Sendable (Request) async throws -> Response?) -> Self {
        self.blueprint.register("an authorize hook") { $0.hooks.authorize.append(hook) }
        return self
    }

    /// Runs after the handler (or the error handler) with its response, and returns the
    /// response to send; in reverse registration order, a blueprint's before the app's.
    @discardableResult
    public func after(_ hook: @escaping @Sendable (Request, Response) async throws -> Response) -> Self {
        self.blueprint.register("an after-hook") { $0.hooks.after.append(hook) }
        return self
    }

    /// Runs at the very end of every request, even when the handler threw; gets the error the
    /// handler threw, if any. For releasing what the request held.
    @discardableResult
    public func teardown(_ hook: @escaping @Sendable (Request, (any Error)?) async -> Void) -> Self {
        self.blueprint.register("a teardown hook") { $0.hooks.teardown.append(hook) }
        return self
    }

    /// Answers errors of `status` (an `HTTPError` with it, or any other error for a 500).
    @discardableResult
    public func errorHandler<R: ResponseEncodable>(
        _ status: HTTPStatus,
        _ handler: @escaping @Sendable (Request, HTTPError) async throws -> R
    ) -> Self {
        let errorHandler = Blueprint.ErrorHandler(handles: { HTTPError(converting: $0).status == status }) { request, error in
            var response = try await handler(request, HTTPError(converting: error)).makeResponse(for: request)
            if response.status == .ok { response.status = status }
            return response
        }
        self.blueprint.register("an error handler for \(status.code)") { $0.hooks.errorHandlers.append(errorHandler) }
        return self
    }

    /// Answers errors of type `E`.
    @discardableResult
    public func errorHandler<E: Error, R: ResponseEncodable>(
        _ type: E.Type,
        _ handler: @escaping @Sendable (Request, E) async throws -> R
    ) -> Self {
        let errorHandler = Blueprint.ErrorHandler(handles: { $0 is E }) { request, error in
            try await handler(request, error as! E).makeResponse(for: request)
        }
        self.blueprint.register("an error handler for \(E.self)") { $0.hooks.errorHandlers.append(errorHandler) }
        return self
    }

    /// Adds `child`'s routes under this one's prefix and name.
    @discardableResult
    public func register(_ child: Blueprint) -> Self {
        precondition(child !== self.blueprint, "a blueprint cannot be registered on itself")
        self.blueprint.register("blueprint '\(child.name)'") { $0.children.append(child) }
        return self
    }
}

extension HTTPError {
    /// `error` itself if it is an `HTTPError`, its `httpError` if it is `HTTPErrorConvertible`,
    /// else a 500.
    init(converting error: any Error) {
        self = error as? HTTPError ?? (error as? any HTTPErrorConvertible)?.httpError ?? HTTPError(.internalServerError)
    }
}
