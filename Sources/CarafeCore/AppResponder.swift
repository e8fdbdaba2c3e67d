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
        var response = await self.respond(to: request)
        if let accessLog = self.services.accessLog {
            switch response.body {
            case .stream(let length, let produce) where request.method != .HEAD:
                // Log once the stream ends, with the bytes it really wrote.
                response.body = .stream(length: length) { [response] writer in
                    let counting = CountingBodyWriter(writer)
                    defer { accessLog.log(request, response, bytes: counting.bytes) }
                    try await produce(counting)
                }
            case .stream:
                accessLog.log(request, response, bytes: 0)
            case .buffer(let buffer):
                accessLog.log(request, response, bytes: buffer.readableBytes)
            case .webSocket(let options, let run):
                // Log once the connection ends, as Gunicorn logs a long request when it is done.
                response.body = .webSocket(options) { [response] socket in
                    defer { accessLog.log(request, response, bytes: 0) }
                    try await run(socket)
                }
            }
        }
        return HTTPServerResponse(status: response.status, headers: response.headers, body: response.body)
    }

    func respond(to request: Request) async -> Response {
        if let health = self.services.healthPath, request.path.hasPrefix(health), request.method == .GET || request.method == .HEAD,
            let answer = Self.health(request.path, health, ready: self.services.readiness.isReady)
        {
            return answer
        }
        var blueprints = [self.services.routes.rootHooks]
        var collectsBody = false
        var onPool = false
        var action: Route.Handler
        switch self.services.routes.match(request.method, request.pathSegments) {
        case .found(let route, let parameters):
            request.route = route
            request.parameters = parameters
            blueprints = route.hooks
            collectsBody = route.body == .collect
            action = route.handler
            onPool = route.runsOnThreadPool(self.services.workerClass)
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
            return await self.handle(request, action, blueprints: blueprints, collectsBody: collectsBody)
        }
        // The route runs on the thread pool: hooks, handler, error handlers, and its streamed body
        // or WebSocket, so that any of them may block. A full queue is answered 503 at once, on
        // the loop, before the body is read.
        let pool = self.services.blockingPool
        do {
            try pool.admit()
        } catch {
            action = { _ in throw error }
            return await self.handle(request, action, blueprints: blueprints, collectsBody: false)
        }
        var response = await withTaskExecutorPreference(pool) { [action] in
            await self.handle(request, action, blueprints: blueprints, collectsBody: collectsBody)
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

    /// Collects the body if the route wants it, then runs the hooks, `action` and the error
    /// handlers in Flask's order, wherever the caller runs.
    private func handle(_ request: Request, _ action: Route.Handler, blueprints: [Blueprint.Hooks], collectsBody: Bool) async -> Response {
        var failure: (any Error)?
        var response: Response
        do {
            if collectsBody {
                try await request.collectBody(upTo: self.services.maxBodySize)
            }
            if let early = try await Self.runBeforeHooks(blueprints, request) {
                response = early
            } else {
                response = try await action(request)
            }
        } catch {
            failure = error
            response = await self.answer(error, to: request, blueprints: blueprints)
        }
        for blueprint in blueprints.reversed() {
            for hook in blueprint.after.reversed() {
                do {
                    response = try await hook(request, response)
                } catch {
                    failure = failure ?? error
                    response = await self.answer(error, to: request, blueprints: blueprints)
                }
            }
        }
        for blueprint in blueprints.reversed() {
            for hook in blueprint.teardown.reversed() {
                await hook(request, failure)
            }
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
                    self.services.logger.error("error handler failed for \(request.method.rawValue) \(request.uri): \(failure) (handling: \(error))")
                    return self.defaultResponse(to: failure, for: request)
                }
            }
        }
        return self.defaultResponse(to: error, for: request)
    }

    /// An error response in JSON for clients that prefer it, else in plain text.
    private func defaultResponse(to error: any Error, for request: Request) -> Response {
        var httpError = HTTPError(converting: error)
        if Task.isCancelled {
            // The client went away; nobody will read this response.
            self.services.logger.debug("\(request.method.rawValue) \(request.uri) cancelled: \(error)")
        } else if !(error is HTTPError || error is any HTTPErrorConvertible) {
            self.services.logger.error("unhandled error in \(request.method.rawValue) \(request.uri): \(String(reflecting: error))")
            if self.services.debug { httpError.message = "\(String(reflecting: error))" }
        }
        let accept = request.headers.first(name: "accept") ?? ""
        var response: Response
        if accept.contains("json") && !accept.contains("html") {
            struct Body: Encodable { let error: String; let status: UInt }
            response = (try? Response.json(Body(error: httpError.message, status: httpError.status.code), status: httpError.status))
                ?? Response(status: httpError.status)
        } else {
            response = Response(status: httpError.status, text: HTTPServerResponse.errorText(httpError.status, httpError.message))
        }
        for (name, value) in httpError.headers { response.headers.replaceOrAdd(name: name, value: value) }
        return response
    }
}

/// Passes chunks on and counts their bytes, for the access log.
private final class CountingBodyWriter: ResponseBodyWriter {
    private let next: any ResponseBodyWriter
    private let count = Mutex(0)

    init(_ next: any ResponseBodyWriter) {
        self.next = next
    }

    var bytes: Int { self.count.withLock { $0 } }

    func write(_ chunk: ByteBuffer) async throws {
        try await self.next.write(chunk)
        self.count.withLock { $0 += chunk.readableBytes }
    }

    func keepAlive(every interval: Duration, with chunk: ByteBuffer) {
        self.next.keepAlive(every: interval, with: chunk)
    }
}
