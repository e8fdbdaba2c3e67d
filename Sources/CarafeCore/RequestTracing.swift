import CarafeHTTP
import Tracing

/// Where an app takes a request's incoming trace context (W3C `traceparent`/`tracestate`) from.
///
/// A trace context names the trace a request joins and whether it is sampled, so a client on
/// the internet that may set it can pin its requests into another trace or force sampling on.
/// The default therefore reads it from trusted peers only, as `X-Request-Id` is
/// (`App.forwardedAllowIPs`: the proxy, the mesh, the other services); every other request
/// starts a new trace.
public enum TraceContextSource: Sendable, Hashable {
    /// Read it from peers in `App.forwardedAllowIPs` (the default).
    case trustedPeers
    /// Read it from every request: for a service that only other services reach.
    case anyPeer
    /// Never: every request starts a new trace.
    case never
}

/// A span per request, through swift-distributed-tracing: made only when a tracer is there
/// (`App.tracer`, or the one bootstrapped with `InstrumentationSystem.bootstrap` before the app
/// first serves), so an app without one pays a nil check per request.
///
/// The span is a server span named `METHOD /route/:pattern` (the method alone when no route
/// matched), with OpenTelemetry's HTTP server attributes. Its parent is the trace context the
/// tracer's propagator extracts from the request's headers (W3C `traceparent`, `tracestate` for
/// an OpenTelemetry tracer), when `App.traceContextFrom` allows. While the handler runs, the
/// span's context is the task-local `ServiceContext.current`: database queries become its
/// children, `Request.traceHeaders` injects it into an outgoing call's headers, and `req.logger`
/// has its `trace_id`.
final class RequestTracing: Sendable {
    let tracer: any Tracer
    let source: TraceContextSource

    /// Tracing for `tracer`, or nil for a no-op tracer: then nothing is done per request.
    init?(tracer: (any Tracer)?, source: TraceContextSource) {
        let tracer = tracer ?? InstrumentationSystem.tracer
        if tracer is NoOpTracer { return nil }
        self.tracer = tracer
        self.source = source
    }

    /// Runs `body` (routing, hooks, handler) in the request's span; the span ends with the
    /// response: at once for a body in memory, when the stream or the WebSocket ends otherwise.
    func trace(_ request: Request, trusted: Bool, _ body: () async -> Response) async -> Response {
        var context = ServiceContext.current ?? .topLevel
        if self.source == .anyPeer || (self.source == .trustedPeers && trusted) {
            self.tracer.extract(request.headers, into: &context, using: HTTPHeadersExtractor())
        }
        let method = request.method.rawValue
        let span = self.tracer.startSpan(method, context: context, ofKind: .server)
        span.updateAttributes { attributes in
            attributes["http.request.method"] = RequestMetrics.methodLabel(request.method)
            attributes["url.path"] = request.path
            if !request.queryString.isEmpty { attributes["url.query"] = request.queryString }
            attributes["url.scheme"] = request.scheme
            attributes["network.protocol.version"] = request.version.major == 1 ? "1.\(request.version.minor)" : "\(request.version.major)"
            if let client = request.remoteAddress?.ipAddress { attributes["client.address"] = client }
            if let host = request.host { attributes["server.address"] = host }
            if let agent = request.headers.first(name: "user-agent") { attributes["user_agent.original"] = agent }
            attributes["http.request.header.x-request-id"] = request.id
        }
        request.traceContext = span.context
        let withTracer = self.tracer
        let response = await ServiceContext.$current.withValue(span.context) {
            await Tracing.withTracer(withTracer) { await body() }
        }
        if let route = request.route {
            span.operationName = "\(method) \(route.pattern)"
            span.attributes["http.route"] = "\(route.pattern)"
        }
        let status = response.status.code
        span.attributes["http.response.status_code"] = Int(status)
        if status >= 500 {
            span.attributes["error.type"] = "\(status)"
            span.setStatus(SpanStatus(code: .error))
        }
        switch response.body {
        case .buffer:
            span.end()
        case .stream, .webSocket:
            request.completion.whenFinished { _ in span.end() }
        }
        return response
    }

    /// The W3C trace id (32 hex digits) of `context`, as the tracer injects it into `traceparent`;
    /// nil for a tracer that does not speak W3C.
    func traceID(of context: ServiceContext) -> String? {
        var headers = HTTPHeaders()
        self.tracer.inject(context, into: &headers, using: HTTPHeadersInjector())
        guard let parent = headers.first(name: "traceparent") else { return nil }
        return TraceParent(parent)?.traceID
    }
}

/// A W3C `traceparent` header (`version-traceid-parentid-flags`, Trace Context level 1), parsed
/// strictly: lowercase hex, the right lengths, ids not all zero.
public struct TraceParent: Sendable, Hashable {
    /// 32 hex digits.
    public var traceID: String
    /// The caller's span, 16 hex digits.
    public var parentID: String
    /// The trace flags; bit 0 is `sampled`.
    public var flags: UInt8

    public init(traceID: String, parentID: String, flags: UInt8) {
        self.traceID = traceID
        self.parentID = parentID
        self.flags = flags
    }

    /// Parses `header`; nil if it is not a well-formed version-00 (or later, read as 00) value.
    public init?(_ header: String) {
        let parts = header.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].utf8.count == 2, parts[0] != "ff",
            parts[1].utf8.count == 32, parts[2].utf8.count == 16, parts[3].utf8.count == 2,
            parts[0] != "00" || parts.count == 4,
            parts[0...3].allSatisfy({ $0.utf8.allSatisfy(Self.isLowerHex) }),
            parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" }),
            let flags = UInt8(parts[3], radix: 16)
        else { return nil }
        self.traceID = String(parts[1])
        self.parentID = String(parts[2])
        self.flags = flags
    }

    /// Whether the caller sampled the trace.
    public var sampled: Bool { self.flags & 1 == 1 }

    /// The header's value.
    public var header: String {
        let hex = String(self.flags, radix: 16)
        return "00-\(self.traceID)-\(self.parentID)-\(hex.count == 1 ? "0" + hex : hex)"
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}

/// Reads a trace context's fields from request headers, for the tracer's propagator.
struct HTTPHeadersExtractor: Extractor {
    func extract(key: String, from headers: HTTPHeaders) -> String? {
        headers.first(name: key)
    }
}

/// Writes a trace context's fields into headers (an outgoing request's, or for `traceID(of:)`).
public struct HTTPHeadersInjector: Injector {
    public init() {}
    public func inject(_ value: String, forKey key: String, into headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: key, value: value)
    }
}

extension Request {
    /// The headers that carry this request's trace context (`traceparent`, `tracestate` for an
    /// OpenTelemetry tracer) to a service it calls, so that service's spans join this trace;
    /// empty when the app traces nothing.
    ///
    ///     var headers = req.traceHeaders
    ///     headers.add(name: "accept", value: "application/json")
    public var traceHeaders: HTTPHeaders {
        var headers = HTTPHeaders()
        guard let tracing = self.services.tracing, let context = self.traceContext ?? ServiceContext.current else { return headers }
        tracing.tracer.inject(context, into: &headers, using: HTTPHeadersInjector())
        return headers
    }
}
