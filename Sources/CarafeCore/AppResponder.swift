import CarafeHTTP
import Foundation
import Synchronization

/// Answers requests for an app: matches the route, runs hooks, the handler and error
/// handlers in Flask's order, and writes the access log.
///
/// For a request: the before-hooks (app first, then each blueprint down to the route's),
/// then the handler unless a hook answered; an error from either goes to the error handlers
/// (the route's blueprint first, then outwards to the app's); then the after-hooks (inner
/// first); last the teardown hooks, which run whatever happened.
struct AppResponder: HTTPResponder {
    let services: AppServices

    func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
        let request = Request(request, services: self.services)
        let metrics = self.services.metrics
        metrics?.active.increment()
        let slot = InFlightRequests.isOn ? InFlightRequests.shared.start(request) : nil
        var response: Response
        if let tracing = self.services.tracing {
            let trusted = self.services.forwardedAllowIPs.contains(request.peerAddress)
            response = await RequestID.$current.withValue(request.id) {
                await tracing.trace(request, trusted: trusted) { await self.respond(to: request) }
            }
        } else {
            response = await RequestID.$current.withValue(request.id) { await self.respond(to: request) }
        }
        if let slot { InFlightRequests.shared.finish(request, in: slot) }
        if !response.headers.contains(name: "x-request-id") { response.headers.add(name: "x-request-id", value: request.id) }
        self.services.securityHeaders.apply(to: &response.headers)
        let accessLog = self.services.accessLog
        // Without an access log or metrics, nothing waits for the end.
        if accessLog != nil || metrics != nil {
            // Once the response is over, whatever its kind and however it ended (a stream whose
            // producer never started, a client gone mid-download): the access-log line with the
            // bytes the server really wrote, and the request's metrics.
            request.completion.whenFinished { [response, services = self.services] summary in
                // What the client got: the server may have written another status (a timeout's
                // 503, the 200 that opens a WebSocket over HTTP/2).
                var sent = response
                if let status = summary.status { sent.status = status }
                accessLog?.log(request, sent, bytes: summary.bytes)
                if let metrics {
                    metrics.active.decrement()
                    metrics.record(
                        method: request.method,
                        route: Self.routeLabel(request, services),
                        status: sent.status.code,
                        duration: .now - request.startedAt
                    )
                }
            }
            if let metrics { Self.countLongLived(&response, metrics: metrics, request: request) }
        }
        if let uploads = request.temporaryUploads {
            response.body = uploads.removing(after: response.body, method: request.method)
        }
        return HTTPServerResponse(status: response.status, headers: response.headers, body: response.body)
    }

    /// The `http_route` label: the matched route's pattern, the health path, or one fixed value.
    static func routeLabel(_ request: Request, _ services: AppServices) -> String {
        if let route = request.route { return route.pattern.description }
        if let health = services.healthPath, request.path == health || request.path == health + "/live" { return request.path }
        return RequestMetrics.unmatchedRoute
    }

    /// Counts an event stream from when its producer starts until the response has ended (not
    /// until the producer returns: a relayed stream, `EventStream.relay`, outlives it), and a
    /// WebSocket from its handler's start until its session ends.
    private static func countLongLived(_ response: inout Response, metrics: RequestMetrics, request: Request) {
        switch response.body {
        case .stream(let length, let produce) where request.method != .HEAD:
            guard response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true else { return }
            response.body = .stream(length: length) { [completion = request.completion] writer in
                metrics.eventStreams.increment()
                completion.whenFinished { _ in metrics.eventStreams.decrement() }
                try await produce(writer)
            }
        case .webSocket(let options, let run):
            // Until the session ends, not the handler: a relayed session (`WebSocket.relay`) outlives it.
            response.body = .webSocket(options) { [completion = request.completion] socket in
                metrics.webSockets.increment()
                completion.whenFinished { _ in metrics.webSockets.decrement() }
                try await run(socket)
            }
        case .stream, .buffer:
            break
        }
    }

    func respond(to request: Request) async -> Response {
        if let health = self.services.healthPath, request.path.hasPrefix(health), request.method == .GET || request.method == .HEAD,
            let answer = Self.health(request.path, health, ready: self.services.readiness.isReady)
        {
            return answer
        }
        if let preflight = self.preflight(request) {
            return preflight
        }
        var blueprints = self.services.routes.rootChain
        var bodyStrategy = RequestBodyStrategy.stream
        var onPool = false
        var action: Route.Handler
        switch self.services.routes.match(request.method, request.pathSegments) {
        case .found(let route, let parameters):
            request.route = route
            request.parameters = parameters
            blueprints = route.hooks
            bodyStrategy = route.body
            action = route.handler
            onPool = route.runsOnThreadPool(self.services.workerClass)
            if let (timeout, origin) = route.handlerDeadline {
                let (seconds, attoseconds) = timeout.components
                request.deadline.set(.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000), origin: origin)
            }
        case .methodNotAllowed(let allowed) where request.method == .OPTIONS:
            action = { _ in Response(status: .noContent, headers: ["allow": allowed.joined(separator: ", ")]) }
        case .methodNotAllowed(let allowed):
            action = { request in
                throw HTTPError(
                    .methodNotAllowed,
                    "\(request.method.rawValue) is not allowed for \(request.path); allowed: \(allowed.joined(separator: ", ")).",
                    headers: ["allow": allowed.joined(separator: ", ")]
                )
            }
        case .notFound:
            action = { request in throw HTTPError(.notFound, "No route for \(request.path).") }
        }
        guard onPool else {
            return await self.handle(request, action, blueprints: blueprints, bodyStrategy: bodyStrategy)
        }
        // The route runs on the thread pool: hooks, handler, error handlers, and its streamed body
        // or WebSocket, so that any of them may block. A full queue is answered 503 at once, on
        // the loop, before the body is read.
        let pool = self.services.blockingPool
        do {
            try pool.admit()
        } catch {
            action = { _ in throw error }
            return await self.handle(request, action, blueprints: blueprints, bodyStrategy: .stream)
        }
        var response = await withTaskExecutorPreference(pool) { [action] in
            await self.handle(request, action, blueprints: blueprints, bodyStrategy: bodyStrategy)
        }
        switch response.body {
        case .buffer: break
        case .stream(let length, let produce):
            response.body = .stream(length: length) { writer in
                try await withTaskExecutorPreference(pool) { try await produce(writer) }
            }
        case .webSocket(let options, let run):
            response.body = .webSocket(options) { socket in
                try await withTaskExecutorPreference(pool) { try await run(socket) }
            }
        }
        return response
    }

    /// Reads the body as the route wants it, then runs the hooks, `action` and the error
    /// handlers in Flask's order, wherever the caller runs.
    private func handle(
        _ request: Request,
        _ action: Route.Handler,
        blueprints: [Blueprint.Hooks],
        bodyStrategy: RequestBodyStrategy
    ) async -> Response {
        // A request no route matched has its errors answered by the blueprint its path falls
        // under (an API's JSON handler for /api/nope), though none of its hooks run.
        let errorBlueprints = request.route == nil ? self.services.routes.hooksChain(for: request.pathSegments) : blueprints
        var failure: (any Error)?
        var response: Response
        do {
            if let allowed = self.services.allowedHosts, !allowed.allows(request.host) {
                // Before the body, the hooks and the handler: nothing may build a URL with this host.
                let host = request.host ?? request.headers.first(name: "host")
                throw HTTPError(
                    .badRequest,
                    "Host \(host.map { "'\(FileLogHandler.escaped($0))'" } ?? "(none)") is not allowed (App.allowedHosts: \(allowed))."
                )
            }
            if request.route != nil {
                for hook in self.services.routes.rootHooks.beforeBody { try hook(request) }
            }
            if let refusal = try await Self.runAuthorizeHooks(blueprints, request) {
                // Refused on its head alone: the body is never read.
                response = refusal
            } else {
                try await request.readBody(bodyStrategy)
                if let early = try await Self.runBeforeHooks(blueprints, request) {
                    response = early
                } else {
                    response = try await action(request)
                }
            }
        } catch {
            failure = error
            response = await self.answer(error, to: request, blueprints: errorBlueprints)
        }
        for blueprint in blueprints.reversed() {
            for hook in blueprint.after.reversed() {
                do {
                    response = try await hook(request, response)
                } catch {
                    failure = failure ?? error
                    response = await self.answer(error, to: request, blueprints: errorBlueprints)
                }
            }
        }
        self.addCORSHeaders(&response, for: request)
        // Without teardown hooks (most apps) nothing waits for the response's end: no wrapping
        // of its body and no bookkeeping per request.
        guard blueprints.contains(where: { !$0.teardown.isEmpty }) else { return response }
        return await self.scheduleTeardown(Teardown(blueprints, request, failure), after: response, of: request)
    }

    /// Runs the teardown hooks once the whole response has ended, as Flask does: at once for a
    /// body already in memory; after the producer for a streamed body, and after the session for
    /// a WebSocket, so that what the stream uses is released only when it is done with it. If the
    /// server never starts the producer (the client left first, or HEAD), the hooks run when the
    /// server says the response ended.
    private func scheduleTeardown(_ teardown: Teardown, after response: Response, of request: Request) async -> Response {
        let tasks = self.services.tasks
        var response = response
        switch response.body {
        case .stream(let length, let produce) where request.method != .HEAD:
            response.body = .stream(length: length) { writer in try await teardown.after { try await produce(writer) } }
            request.completion.whenFinished { _ in teardown.runIfNeverStarted(in: tasks) }
        case .webSocket(let options, let run):
            response.body = .webSocket(options) { socket in try await teardown.after { try await run(socket) } }
            request.completion.whenFinished { _ in teardown.runIfNeverStarted(in: tasks) }
        case .stream, .buffer:
            await teardown.run()
        }
        return response
    }

    /// The answer to a probe of the health path (no hooks run for it), or nil for another path.
    private static func health(_ path: String, _ health: String, ready: Bool) -> Response? {
        var response: Response
        if path == health {
            response = ready ? Response(text: "ready\n") : Response(status: .serviceUnavailable, text: "draining\n")
        } else if path == health + "/live" {
            response = Response(text: "alive\n")
        } else {
            return nil
        }
        response.headers.replaceOrAdd(name: "cache-control", value: "no-store")
        return response
    }

    /// The blueprints' `authorize` hooks, outermost first, then the route's own: the first
    /// refusal, or nil to read the body and go on.
    private static func runAuthorizeHooks(_ blueprints: [Blueprint.Hooks], _ request: Request) async throws -> Response? {
        for blueprint in blueprints {
            for hook in blueprint.authorize {
                if let response = try await hook(request) { return response }
            }
        }
        return try await request.route?.authorize?(request)
    }

    private static func runBeforeHooks(_ blueprints: [Blueprint.Hooks], _ request: Request) async throws -> Response? {
        for blueprint in blueprints {
            for hook in blueprint.before {
                if let response = try await hook(request) { return response }
            }
        }
        return nil
    }

    /// The response to `error`: from the innermost error handler that takes it, else the default.
    private func answer(_ error: any Error, to request: Request, blueprints: [Blueprint.Hooks]) async -> Response {
        for blueprint in blueprints.reversed() {
            for handler in blueprint.errorHandlers where handler.handles(error) {
                do {
                    var response = try await handler.handle(request, error)
                    // `Allow` on a 405, `WWW-Authenticate` on a 401: the status needs them.
                    for (name, value) in HTTPError(converting: error).headers where !response.headers.contains(name: name) {
                        response.headers.add(name: name, value: value)
                    }
                    return response
                } catch let failure {
                    self.services.logger.error(
                        "error handler failed for \(request.method.rawValue) \(request.uri): \(failure) (handling: \(error))"
                    )
                    return self.defaultResponse(to: failure, for: request, blueprints: blueprints)
                }
            }
        }
        return self.defaultResponse(to: error, for: request, blueprints: blueprints)
    }

    /// An error response in the format the innermost blueprint declares (`errorFormat`), else
    /// in the client's: JSON for clients that prefer it, HTML for browsers, else plain text.
    private func defaultResponse(to error: any Error, for request: Request, blueprints: [Blueprint.Hooks]) -> Response {
        var httpError = HTTPError(converting: error)
        if Task.isCancelled {
            // The client went away; nobody will read this response.
            self.services.logger.debug("\(request.method.rawValue) \(request.uri) cancelled: \(error)")
        } else if !(error is HTTPError || error is any HTTPErrorConvertible) {
            self.services.logger.error("unhandled error in \(request.method.rawValue) \(request.uri): \(String(reflecting: error))")
            if self.services.debug { httpError.message = "\(String(reflecting: error))" }
        }
        var response: Response
        switch blueprints.reversed().lazy.compactMap(\.errorFormat).first ?? ErrorFormat(accept: request.headers[canonicalForm: "accept"]) {
        case .json:
            struct Body: Encodable {
                let error: String
                let status: UInt
                let fields: [String: [String]]?
            }
            // A validation failure says what is wrong with each field.
            let fields = (error as? ValidationFailure)?.messagesByField
            response =
                (try? Response.json(Body(error: httpError.message, status: httpError.status.code, fields: fields), status: httpError.status))
                ?? Response(status: httpError.status)
        case .html:
            response = Response(status: httpError.status, text: ErrorFormat.page(httpError), contentType: "text/html; charset=utf-8")
        case .text:
            response = Response(status: httpError.status, text: HTTPServerResponse.errorText(httpError.status, httpError.message))
        }
        for (name, value) in httpError.headers { response.headers.replaceOrAdd(name: name, value: value) }
        return response
    }
}

/// A request's teardown hooks, run once: when its response has ended (see `scheduleTeardown`).
///
/// It holds the request only until the hooks have run: the response's end may come much later
/// (a detached event stream is written by the hub for hours), and what waits for it should not
/// keep the request, and through it the connection's HTTP handlers, alive meanwhile.
private final class Teardown: Sendable {
    private let hooks: [Blueprint.Hooks]
    private let failure: (any Error)?
    /// The request until the hooks run (or are running), and whether the response's producer started.
    private let state: Mutex<(request: Request?, started: Bool)>

    init(_ hooks: [Blueprint.Hooks], _ request: Request, _ failure: (any Error)?) {
        self.hooks = hooks
        self.failure = failure
        self.state = Mutex((request: request, started: false))
    }

    /// Runs `body` (a streamed body's producer, a WebSocket session), then the hooks, which get
    /// the error `body` threw if the handler threw none.
    func after(_ body: () async throws -> Void) async throws {
        self.state.withLock { $0.started = true }
        do {
            try await body()
        } catch {
            await self.run(failure: error)
            throw error
        }
        await self.run()
    }

    /// Runs the hooks, innermost blueprint first, unless they ran; they get the handler's error,
    /// else the stream's.
    func run(failure streamFailure: (any Error)? = nil) async {
        let request = self.state.withLock { state in
            defer { state.request = nil }
            return state.request
        }
        guard let request else { return }
        for blueprint in self.hooks.reversed() {
            for hook in blueprint.teardown.reversed() {
                await hook(request, self.failure ?? streamFailure)
            }
        }
    }

    /// For a response whose producer the server never started: runs the hooks in a task of
    /// their own, owned by the app (serving waits for it before the stop hooks run).
    func runIfNeverStarted(in tasks: OwnedTasks) {
        guard self.state.withLock({ !$0.started && $0.request != nil }) else { return }
        tasks.run { await self.run() }
    }
}
