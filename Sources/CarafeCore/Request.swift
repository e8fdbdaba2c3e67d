import CarafeHTTP
import Foundation
import Synchronization
import Tracing

/// An incoming request, as a handler sees it.
///
/// Its hooks and handler may add to `storage` (Flask's `g`) as they go. A handler may hand the
/// request to child tasks (`async let`, a task group): what can change after routing (the body,
/// the matched route, the values parsed on first use) sits behind a lock, so that reading it from
/// several tasks is not a data race.
public final class Request: Sendable {
    public let method: HTTPMethod
    /// The request target as sent: `/search?q=swift`.
    public let uri: String
    /// The path, percent-decoded: `/search`.
    public let path: String
    /// The raw query string after `?`, or "".
    public let queryString: String
    public let version: HTTPVersion
    public let headers: HTTPHeaders
    /// The request body, collected in full before the hooks run (at most `App.maxBodySize`);
    /// empty on routes that stream it (`body: .stream`).
    public var body: ByteBuffer {
        get { self.state.withLock { $0.body } }
        set { self.state.withLock { $0.body = newValue } }
    }
    /// The request body as it arrives, on routes registered with `body: .stream`: iterate it
    /// once, chunk by chunk; the client is read only as fast as the handler consumes. On other
    /// routes it holds the collected body.
    public internal(set) var bodyStream: RequestBody {
        get { self.state.withLock { $0.bodyStream } }
        set { self.state.withLock { $0.bodyStream = newValue } }
    }
    /// The client's address. Behind a trusted proxy (`App.forwardedAllowIPs`) it is the one
    /// the proxy forwarded (`X-Forwarded-For`, `Forwarded`), with port 0; otherwise the socket's
    /// peer, `peerAddress`. Nil when the test client sets none.
    public let remoteAddress: SocketAddress?
    /// The address of the socket's peer (the proxy, behind one), or the address a PROXY
    /// protocol header gave.
    public let peerAddress: SocketAddress?
    /// `http` or `https`: as the client used it, behind a trusted proxy that says so
    /// (`X-Forwarded-Proto`, `Forwarded: proto=`).
    public let scheme: String
    /// The host (and port, if not the scheme's default) the client asked for: `Host`, or behind
    /// a trusted proxy `X-Forwarded-Host` / `X-Forwarded-Port` / `Forwarded: host=`. Nil if
    /// the client sent none.
    public var host: String? {
        // Read on first use: most requests never ask, and the check scans the header.
        self.cached(\.host) { self.forwardedHost ?? self.headers.first(name: "host").flatMap(ForwardedHeaders.validHost) }
    }
    /// The host a trusted proxy forwarded, if it did.
    private let forwardedHost: String?
    /// The path prefix a trusted proxy mounted the app under (`X-Forwarded-Prefix: /app`), or
    /// "" (WSGI's `SCRIPT_NAME`, Flask's `request.script_root`). `url(for:)` puts it in front.
    public let scriptRoot: String
    /// The parameters of the matched route's path (`:id`, `*path`).
    public internal(set) var parameters: Parameters {
        get { self.state.withLock { $0.parameters } }
        set { self.state.withLock { $0.parameters = newValue } }
    }
    /// The matched route; nil when none matched (404, 405).
    public internal(set) var route: Route? {
        get { self.state.withLock { $0.route } }
        set { self.state.withLock { $0.route = newValue } }
    }
    /// Values that hooks and handlers pass along for this request, by typed key (Flask's `g`).
    public let storage = Storage()
    /// The serving app's `storage` (Flask's `current_app.extensions`).
    public var appStorage: Storage { self.services.storage }
    /// The serving app's `webSocketOrigins`: what a WebSocket route without its own checks.
    package var webSocketOrigins: WebSocketOrigins { self.services.webSocketOrigins }
    /// The `multipart/form-data` form, when the request has one and its route collected it
    /// (the default; `body: .multipart(limits)`), or once `form` or `decode` parsed it.
    public internal(set) var multipartForm: MultipartForm? {
        get { self.state.withLock { $0.multipartForm } }
        set { self.state.withLock { $0.multipartForm = newValue } }
    }
    /// The temporary files of spooled uploads, removed when the request ends.
    var temporaryUploads: TemporaryUploads? {
        get { self.state.withLock { $0.temporaryUploads } }
        set { self.state.withLock { $0.temporaryUploads = newValue } }
    }

    /// Completes when the response to this request has fully ended, a streamed body or a
    /// WebSocket session included, with the bytes written and the time taken: for work that must
    /// wait for the end (teardown hooks already do).
    public let completion: ResponseCompletion
    /// This request's id (`X-Request-Id`, see `RequestID`): the trusted peer's, or made here.
    public let id: String
    /// The app's logger with this request's id in its metadata (`request_id`), and its trace's
    /// (`trace_id`) when the app traces (`App.tracer`) with a W3C tracer.
    public var logger: Logger {
        self.cached(\.logger) {
            var logger = self.services.logger
            logger[metadataKey: "request_id"] = "\(self.id)"
            if let tracing = self.services.tracing, let context = self.traceContext, let traceID = tracing.traceID(of: context) {
                logger[metadataKey: "trace_id"] = "\(traceID)"
            }
            return logger
        }
    }
    /// The context of this request's span, when the app traces (see `RequestTracing`); set
    /// before the hooks and the handler run.
    var traceContext: ServiceContext? {
        get { self.state.withLock { $0.traceContext } }
        set { self.state.withLock { $0.traceContext = newValue } }
    }

    /// What can change after the request is made, or is computed on first use.
    private struct State {
        var body = ByteBuffer()
        var bodyStream: RequestBody
        var parameters = Parameters(kind: "path parameter")
        var route: Route?
        var multipartForm: MultipartForm?
        var temporaryUploads: TemporaryUploads?
        var logger: Logger?
        var query: Parameters?
        var cookies: [String: String]?
        var form: Parameters?
        var host: String??
        var traceContext: ServiceContext?
    }
    private let state: Mutex<State>
    /// When the request arrived, for the access log's request time.
    let startedAt = ContinuousClock.now
    /// The path's segments, each percent-decoded: what routes match.
    let pathSegments: [String]
    /// The serving app's routes and thread pool.
    let services: AppServices
    /// Sets the matched route's handler deadline on the connection that serves the request.
    let deadline: RequestDeadline
    /// The trailer fields after the body (`trailers`).
    let requestTrailers: RequestTrailers

    init(_ request: HTTPServerRequest, services: AppServices) {
        self.method = request.head.method
        self.uri = request.head.uri
        self.version = request.head.version
        self.headers = request.head.headers
        self.state = Mutex(State(bodyStream: request.body))
        self.completion = request.completion
        self.deadline = request.deadline
        self.requestTrailers = request.trailers
        self.peerAddress = request.remoteAddress
        let forwarded = ForwardedHeaders(
            headers: request.head.headers,
            peer: request.remoteAddress,
            trusted: services.forwardedAllowIPs,
            accepting: services.forwardedHeaders,
            secure: request.isSecure
        )
        self.remoteAddress = forwarded.client
        self.scheme = forwarded.scheme
        self.forwardedHost = forwarded.host
        self.scriptRoot = forwarded.prefix
        self.services = services
        let trusted = services.forwardedAllowIPs.contains(request.remoteAddress)
        self.id = (trusted ? RequestID.valid(request.head.headers.first(name: "x-request-id")) : nil) ?? RequestID.make()
        let target = request.head.uri
        let rawPath: Substring
        // Byte-wise: `?`, `%` and `/` are ASCII, and Character-wise search costs per request.
        if let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            rawPath = target[..<question]
            self.queryString = String(target[target.utf8.index(after: question)...])
        } else {
            rawPath = target[...]
            self.queryString = ""
        }
        // Split first, then decode each segment, so that an escaped `/` (%2F) stays inside its
        // segment. An invalid escape leaves the text as sent; matching then finds no route.
        if rawPath.utf8.contains(UInt8(ascii: "%")) {
            self.path = URLEncodedForm.percentDecode(rawPath, plusAsSpace: false) ?? String(rawPath)
            self.pathSegments = Self.segments(of: rawPath).map { URLEncodedForm.percentDecode($0, plusAsSpace: false) ?? $0 }
        } else {
            self.path = String(rawPath)
            self.pathSegments = Self.segments(of: rawPath)
        }
    }

    /// The non-empty `/`-separated segments of `path`, in one array (not `split` then `map`).
    private static func segments(of path: Substring) -> [String] {
        var segments: [String] = []
        var start = path.utf8.startIndex
        for index in path.utf8.indices where path.utf8[index] == UInt8(ascii: "/") {
            if start < index { segments.append(String(path[start..<index])) }
            start = path.utf8.index(after: index)
        }
        if start < path.utf8.endIndex { segments.append(String(path[start...])) }
        return segments
    }

    /// Collects the body for a `.collect` route: a 413 (closing the connection) past `limit`,
    /// said before reading anything when `Content-Length` already tells.
    func collectBody(upTo limit: Int) async throws {
        func tooLarge() -> HTTPError {
            HTTPError(.payloadTooLarge, HTTPBodyError.tooLarge(limit: limit).description, headers: ["connection": "close"])
        }
        if let declared = self.headers.first(name: "content-length").flatMap(Int.init), declared > limit {
            throw tooLarge()
        }
        do {
            self.body = try await self.bodyStream.collect(upTo: limit)
            self.bodyStream = RequestBody(self.body)
        } catch HTTPBodyError.tooLarge {
            throw tooLarge()
        }
    }

    /// The query string's parameters: `?page=2&tag=a&tag=b`.
    public var query: Parameters {
        self.cached(\.query) { Parameters(kind: "query parameter", URLEncodedForm.parse(self.queryString)) }
    }

    /// Cookies the client sent, by name.
    public var cookies: [String: String] {
        self.cached(\.cookies) {
            // Not `canonicalForm`: that splits on commas, which cookie values may contain.
            self.headers["cookie"].reduce(into: [:]) { all, header in
                all.merge(Cookie.parse(header: header)) { first, _ in first }
            }
        }
    }

    /// The fields of an `application/x-www-form-urlencoded` body, or the text fields of a
    /// `multipart/form-data` one (empty if it does not parse: `decode` says why); empty for
    /// other content types.
    public var form: Parameters {
        self.cached(\.form) {
            if self.mediaType == "multipart/form-data" {
                return Parameters(kind: "form field", (try? self.multipartFormForDecoding())?.fields ?? [])
            }
            guard self.mediaType == "application/x-www-form-urlencoded" else { return Parameters(kind: "form field") }
            return Parameters(kind: "form field", URLEncodedForm.parse(self.bodyText))
        }
    }

    /// The value at `key`, made by `make` on first use (outside the lock: `make` may read other
    /// state). If two tasks race, both make it and the first stored wins.
    private func cached<Value: Sendable>(_ key: WritableKeyPath<State, Value?> & Sendable, _ make: () -> Value) -> Value {
        if let value = self.state.withLock({ $0[keyPath: key] }) { return value }
        let made = make()
        return self.state.withLock { state in
            if let value = state[keyPath: key] { return value }
            state[keyPath: key] = made
            return made
        }
    }

    /// The body as UTF-8 text (invalid bytes replaced).
    public var bodyText: String { String(decoding: self.body.readableBytesView, as: UTF8.self) }

    /// The `Content-Type` without parameters, lowercased: `application/json`.
    public var mediaType: String? {
        self.headers.first(name: "content-type").map {
            $0.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces.lowercased() } ?? ""
        }
    }

    /// Decodes the body as `T`: JSON for `application/json` (and `+json` types), form fields for
    /// `application/x-www-form-urlencoded`, fields and files (`UploadedFile`) for `multipart/form-data`. A malformed body is a 400 naming the bad field; any
    /// other content type is a 415.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try self.decodeBody(T.self)
        } catch let error as DecodingError {
            throw HTTPError(.badRequest, "Invalid request body: \(Self.explain(error))")
        }
    }

    /// The body as `T`, or the `DecodingError` (a 415 for another content type).
    func decodeBody<T: Decodable>(_ type: T.Type) throws -> T {
        let mediaType = self.mediaType ?? ""
        do {
            if mediaType == "application/json" || mediaType.hasSuffix("+json") {
                return try self.services.jsonDecoder.decode(T.self, from: Data(self.body.readableBytesView))
            }
            if mediaType == "application/x-www-form-urlencoded" {
                return try URLEncodedFormDecoder().decode(T.self, from: Array(self.form))
            }
            if mediaType == "multipart/form-data" {
                return try self.decodeMultipart(T.self)
            }
        }
        throw HTTPError(
            .unsupportedMediaType,
            "Expected a body of type application/json, application/x-www-form-urlencoded or multipart/form-data, got \(mediaType.isEmpty ? "none" : mediaType)."
        )
    }

    /// The path of the route named `name` with `parameters` filled in, plus a query string
    /// from `query` (Flask's `url_for`), after the proxy's prefix (`scriptRoot`). With
    /// `external: true`, an absolute URL with the scheme and host the client used:
    /// `https://example.com/app/users/7`. Throws if no route has that name or a parameter is missing.
    public func url(
        for name: String,
        _ parameters: [String: String] = [:],
        query: [(String, String)] = [],
        external: Bool = false
    ) throws -> String {
        let path = self.scriptRoot + (try self.services.routes.url(for: name, parameters, query: query))
        return external ? "\(self.scheme)://\(self.host ?? "localhost")\(path)" : path
    }

    /// The path parameters of the route named `name` (nil: no such route), for the template
    /// engines' `url_for`.
    package func parameters(ofRoute name: String) -> [(name: String, isCatchAll: Bool)]? {
        self.services.routes.parameters(ofRoute: name)
    }

    static func explain(_ error: DecodingError) -> String {
        /// `items[0].name` for a coding path.
        func field(_ path: [any CodingKey]) -> String {
            path.enumerated().map { index, key in
                key.intValue.map { "[\($0)]" } ?? (index == 0 ? key.stringValue : "." + key.stringValue)
            }.joined()
        }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.isEmpty ? "" : "'\(field(context.codingPath))': "
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "'\(field(context.codingPath + [key]))' is required."
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let detail = (context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return "\(path(context))\(detail ?? context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
