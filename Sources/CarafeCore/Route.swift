/// A handler bound to a method and a path pattern.
///
/// A class: every request that matches a route holds it (`Request.route`) and reads several of
/// its fields, and a reference costs one retain where a copy of all these fields cost one each.
public final class Route: Sendable {
    /// What every handler becomes once registered.
    typealias Handler = @Sendable (Request) async throws -> Response

    public let method: HTTPMethod
    /// The full pattern, prefixes included: `/api/users/:id`.
    public let pattern: RoutePattern
    /// The full name, blueprint names included (`api.user`); nil for unnamed routes.
    public let name: String?
    /// Whether the body is collected before the hooks and handler run, or streamed to the handler.
    public let body: RequestBodyStrategy
    /// What the route said when it was registered: `true`, its hooks and handler run on the
    /// thread pool; `false`, on the event loop; nil (it said nothing), as the worker class
    /// (`--worker-class`) says. See `runsOnThreadPool(_:)`.
    public let blocking: Bool?
    /// The route's own handler deadline (`timeout:`), if it set one.
    public let timeout: Duration?
    /// The deadline in force for it, and where it was set: its own `timeout:`, else that of
    /// the innermost blueprint (or the app) that set one; nil: the app-wide `--handler-timeout`.
    public let handlerDeadline: (timeout: Duration, origin: String)?
    /// Its `authorize:` hook, run before its body is read; nil: none.
    let authorize: (@Sendable (Request) async throws -> Response?)?
    let handler: Handler
    /// The blueprints from the app's root down to the one that owns the route: whose hooks and
    /// error handlers apply to it.
    public let blueprints: [Blueprint]
    /// Their hooks and error handlers, as frozen with the app, in the same order.
    let hooks: [Blueprint.Hooks]

    init(
        method: HTTPMethod,
        pattern: RoutePattern,
        name: String?,
        body: RequestBodyStrategy,
        blocking: Bool?,
        timeout: Duration?,
        handlerDeadline: (timeout: Duration, origin: String)?,
        authorize: (@Sendable (Request) async throws -> Response?)?,
        handler: @escaping Handler,
        blueprints: [Blueprint],
        hooks: [Blueprint.Hooks]
    ) {
        self.method = method
        self.pattern = pattern
        self.name = name
        self.body = body
        self.blocking = blocking
        self.timeout = timeout
        self.handlerDeadline = handlerDeadline
        self.authorize = authorize
        self.handler = handler
        self.blueprints = blueprints
        self.hooks = hooks
    }
}

/// What a route does with the request body.
public enum RequestBodyStrategy: Sendable, Hashable {
    /// Read it whole (at most `App.maxBodySize`, else 413) before the hooks and the handler run,
    /// into `Request.body`. The default. A `multipart/form-data` body is parsed as it arrives
    /// instead, with the default `MultipartLimits`, into `Request.multipartForm` (`form`,
    /// `files`); its files past the spool threshold go to temporary files, and `body` stays empty.
    case collect
    /// Require a `multipart/form-data` body (else 415) and parse it as it arrives, before the
    /// hooks and the handler run, with these limits (`maxTotalSize` nil: `App.maxBodySize`).
    case multipart(MultipartLimits)
    /// Hand it to the handler as it arrives, as `Request.bodyStream`, with backpressure: for
    /// uploads of any size in flat memory. `App.maxBodySize` does not apply.
    case stream
}

/// A parsed path pattern: `/users/:id/files/*path`.
///
/// Segments are literal text, `:name` (one segment, any text) or, last only, `*name` (one or
/// more segments, joined with `/`). Empty segments are ignored, so `/users/` and `/users` are
/// the same pattern and match the same paths.
public struct RoutePattern: Sendable, Hashable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
        case catchAll(String)
    }

    public let segments: [Segment]
    /// The pattern as written (`/users/:id`): made once, as the metrics' `http_route`, the span
    /// name and the access log read it for every request.
    public let description: String

    public init(_ path: String) {
        var segments: [Segment] = []
        let parts = path.split(separator: "/")
        for (index, part) in parts.enumerated() {
            if part.hasPrefix(":") {
                precondition(part.count > 1, "route '\(path)': a parameter needs a name after ':'")
                segments.append(.parameter(String(part.dropFirst())))
            } else if part.hasPrefix("*") {
                precondition(index == parts.count - 1, "route '\(path)': '\(part)' must be the last segment")
                segments.append(.catchAll(part.count > 1 ? String(part.dropFirst()) : "*"))
            } else {
                segments.append(.literal(String(part)))
            }
        }
        self.segments = segments
        self.description = Self.text(of: segments)
    }

    init(segments: [Segment]) {
        self.segments = segments
        self.description = Self.text(of: segments)
    }

    /// Equal when the segments are (the text follows from them).
    public static func == (lhs: RoutePattern, rhs: RoutePattern) -> Bool { lhs.segments == rhs.segments }

    public func hash(into hasher: inout Hasher) { hasher.combine(self.segments) }

    /// This pattern under `prefix`: `/api` + `/users` = `/api/users`.
    func prefixed(by prefix: RoutePattern) -> RoutePattern {
        RoutePattern(segments: prefix.segments + self.segments)
    }

    /// The parameter names, in order.
    var parameterNames: [String] {
        self.segments.compactMap {
            switch $0 {
            case .literal: nil
            case .parameter(let name), .catchAll(let name): name
            }
        }
    }

    private static func text(of segments: [Segment]) -> String {
        "/"
            + segments.map {
                switch $0 {
                case .literal(let text): text
                case .parameter(let name): ":" + name
                case .catchAll(let name): name == "*" ? "*" : "*" + name
                }
            }.joined(separator: "/")
    }
}
