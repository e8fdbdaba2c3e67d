/// A group of routes with a common prefix, their own hooks and their own error handlers
/// (Flask's blueprint), registered on an app or on another blueprint.
///
///     let api = Blueprint("api", prefix: "/api")
///     api.before { req in req.headers["x-token"].isEmpty ? Response(status: .unauthorized) : nil }
///     api.get("/users/:id", name: "user") { req in ... }       // named "api.user"
///     app.register(api)
///
/// Hooks and error handlers of a blueprint apply to its own routes and those of the
/// blueprints registered on it. A blueprint is configured before the app serves; changing it
/// afterwards has no effect.
public final class Blueprint: RouteBuilder, @unchecked Sendable {
    typealias BeforeHook = @Sendable (Request) async throws -> Response?
    typealias AfterHook = @Sendable (Request, Response) async throws -> Response
    typealias TeardownHook = @Sendable (Request, (any Error)?) async -> Void

    /// An error handler and the errors it is for.
    struct ErrorHandler {
        let handles: @Sendable (any Error) -> Bool
        let handle: @Sendable (Request, any Error) async throws -> Response
    }

    /// A route as registered here, relative to this blueprint.
    struct LocalRoute {
        let method: HTTPMethod
        let pattern: RoutePattern
        let name: String?
        let body: RequestBodyStrategy
        let handler: Route.Handler
    }

    public let name: String
    public let prefix: RoutePattern
    var routes: [LocalRoute] = []
    var children: [Blueprint] = []
    var beforeHooks: [BeforeHook] = []
    var afterHooks: [AfterHook] = []
    var teardownHooks: [TeardownHook] = []
    var errorHandlers: [ErrorHandler] = []

    /// - Parameters:
    ///   - name: prefixes the names of its routes (`name.route`); "" adds none.
    ///   - prefix: prefixes the paths of its routes.
    public init(_ name: String, prefix: String = "") {
        self.name = name
        self.prefix = RoutePattern(prefix)
    }

    public var blueprint: Blueprint { self }

    /// The routes of this blueprint and its children, with full patterns and names, under
    /// `parents` (the blueprints above it, outermost first).
    func resolvedRoutes(under parents: [Blueprint] = []) -> [Route] {
        let chain = parents + [self]
        let prefix = chain.reduce(RoutePattern(segments: [])) { $1.prefix.prefixed(by: $0) }
        let namePrefix = chain.map(\.name).filter { !$0.isEmpty }.joined(separator: ".")
        let own = self.routes.map { local in
            Route(
                method: local.method,
                pattern: local.pattern.prefixed(by: prefix),
                name: local.name.map { namePrefix.isEmpty ? $0 : "\(namePrefix).\($0)" },
                body: local.body,
                handler: local.handler,
                blueprints: chain
            )
        }
        return own + self.children.flatMap { $0.resolvedRoutes(under: chain) }
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
    @discardableResult
    public func on<R: ResponseEncodable>(
        _ method: HTTPMethod,
        _ path: String,
        name: String? = nil,
        body: RequestBodyStrategy = .collect,
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) -> Self {
        self.blueprint.routes.append(
            Blueprint.LocalRoute(method: method, pattern: RoutePattern(path), name: name, body: body) { request in
                try await handler(request).makeResponse(for: request)
            }
        )
        return self
    }

    /// Registers a handler that blocks its thread (file I/O, a C library, heavy computation).
    /// With `blocking: true` it runs on the app's bounded thread pool (`App.blockingThreads`)
    /// so that it cannot stall the event loop; with `false` it runs on the loop like others.
    @discardableResult
    public func on<R: ResponseEncodable>(
        _ method: HTTPMethod,
        _ path: String,
        name: String? = nil,
        blocking: Bool,
        _ handler: @escaping @Sendable (Request) throws -> R
    ) -> Self {
        guard blocking else { return self.on(method, path, name: name) { try handler($0) } }
        return self.on(method, path, name: name) { request in
            try await request.services.runBlocking { try handler(request).makeResponse(for: request) }
        }
    }

    @discardableResult
    public func get<R: ResponseEncodable>(_ path: String, name: String? = nil, _ handler: @escaping @Sendable (Request) async throws -> R) -> Self {
        self.on(.GET, path, name: name, handler)
    }

    @discardableResult
    public func get<R: ResponseEncodable>(_ path: String, name: String? = nil, blocking: Bool, _ handler: @escaping @Sendable (Request) throws -> R) -> Self {
        self.on(.GET, path, name: name, blocking: blocking, handler)
    }

    @discardableResult
    public func post<R: ResponseEncodable>(
        _ path: String,
        name: String? = nil,
        body: RequestBodyStrategy = .collect,
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) -> Self {
        self.on(.POST, path, name: name, body: body, handler)
    }

    @discardableResult
    public func post<R: ResponseEncodable>(_ path: String, name: String? = nil, blocking: Bool, _ handler: @escaping @Sendable (Request) throws -> R) -> Self {
        self.on(.POST, path, name: name, blocking: blocking, handler)
    }

    @discardableResult
    public func put<R: ResponseEncodable>(
        _ path: String,
        name: String? = nil,
        body: RequestBodyStrategy = .collect,
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) -> Self {
        self.on(.PUT, path, name: name, body: body, handler)
    }

    @discardableResult
    public func patch<R: ResponseEncodable>(
        _ path: String,
        name: String? = nil,
        body: RequestBodyStrategy = .collect,
        _ handler: @escaping @Sendable (Request) async throws -> R
    ) -> Self {
        self.on(.PATCH, path, name: name, body: body, handler)
    }

    @discardableResult
    public func delete<R: ResponseEncodable>(_ path: String, name: String? = nil, _ handler: @escaping @Sendable (Request) async throws -> R) -> Self {
        self.on(.DELETE, path, name: name, handler)
    }

    /// Runs before each request's handler, in registration order (the app's before a
    /// blueprint's). Returning a response skips the handler and the later before-hooks.
    @discardableResult
    public func before(_ hook: @escaping @Sendable (Request) async throws -> Response?) -> Self {
        self.blueprint.beforeHooks.append(hook)
        return self
    }

    /// Runs after the handler (or the error handler) with its response, and returns the
    /// response to send; in reverse registration order, a blueprint's before the app's.
    @discardableResult
    public func after(_ hook: @escaping @Sendable (Request, Response) async throws -> Response) -> Self {
        self.blueprint.afterHooks.append(hook)
        return self
    }

    /// Runs at the very end of every request, even when the handler threw; gets the error the
    /// handler threw, if any. For releasing what the request held.
    @discardableResult
    public func teardown(_ hook: @escaping @Sendable (Request, (any Error)?) async -> Void) -> Self {
        self.blueprint.teardownHooks.append(hook)
        return self
    }

    /// Answers errors of `status` (an `HTTPError` with it, or any other error for a 500).
    @discardableResult
    public func errorHandler<R: ResponseEncodable>(
        _ status: HTTPStatus,
        _ handler: @escaping @Sendable (Request, HTTPError) async throws -> R
    ) -> Self {
        self.blueprint.errorHandlers.append(
            Blueprint.ErrorHandler(handles: { HTTPError(converting: $0).status == status }) { request, error in
                var response = try await handler(request, HTTPError(converting: error)).makeResponse(for: request)
                if response.status == .ok { response.status = status }
                return response
            }
        )
        return self
    }

    /// Answers errors of type `E`.
    @discardableResult
    public func errorHandler<E: Error, R: ResponseEncodable>(
        _ type: E.Type,
        _ handler: @escaping @Sendable (Request, E) async throws -> R
    ) -> Self {
        self.blueprint.errorHandlers.append(
            Blueprint.ErrorHandler(handles: { $0 is E }) { request, error in
                try await handler(request, error as! E).makeResponse(for: request)
            }
        )
        return self
    }

    /// Adds `child`'s routes under this one's prefix and name.
    @discardableResult
    public func register(_ child: Blueprint) -> Self {
        precondition(child !== self.blueprint, "a blueprint cannot be registered on itself")
        self.blueprint.children.append(child)
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
