import Foundation

/// Cross-origin resource sharing (flask-cors): which other sites' pages may call this app from
/// a browser, with what, and whether with cookies. Set per app or per blueprint (the innermost
/// blueprint with a policy wins):
///
///     try app.cors(CORS(allowedOrigins: ["https://app.example", "https://*.example.org"], allowedHeaders: ["Content-Type"]))
///     try api.cors(CORS(allowedOrigins: ["https://admin.example"], allowCredentials: true))
///
/// Preflight requests (`OPTIONS` with `Access-Control-Request-Method`) are answered `204` before
/// routing, so a path that would be a 404 or 405 still gets its answer. Every other response to
/// a request with an allowed `Origin` carries the headers: errors, streamed bodies, event
/// streams, static files. `Vary: Origin` is added whenever the answer depends on the origin.
public struct CORS: Sendable {
    /// Origins allowed: exact (`https://app.example`), a wildcard subdomain
    /// (`https://*.example.org`: any subdomain, not the domain itself), or `*`: any origin.
    public var allowedOrigins: [String]
    /// Methods a preflight allows.
    public var allowedMethods: [HTTPMethod]
    /// Request headers a preflight allows (beyond the CORS-safelisted ones); `["*"]` allows
    /// whatever the preflight asks for.
    public var allowedHeaders: [String]
    /// Response headers scripts may read (beyond the safelisted ones).
    public var exposedHeaders: [String]
    /// Whether cookies and HTTP authentication are allowed (`Access-Control-Allow-Credentials`).
    /// Not with `*` origins: `cors(_:)` refuses that at start-up.
    public var allowCredentials: Bool
    /// How long browsers may cache a preflight's answer (`Access-Control-Max-Age`); nil sends none.
    public var maxAge: Duration?

    public init(
        allowedOrigins: [String],
        allowedMethods: [HTTPMethod] = [.GET, .HEAD, .POST, .PUT, .PATCH, .DELETE],
        allowedHeaders: [String] = [],
        exposedHeaders: [String] = [],
        allowCredentials: Bool = false,
        maxAge: Duration? = .seconds(600)
    ) {
        self.allowedOrigins = allowedOrigins
        self.allowedMethods = allowedMethods
        self.allowedHeaders = allowedHeaders
        self.exposedHeaders = exposedHeaders
        self.allowCredentials = allowCredentials
        self.maxAge = maxAge
    }

    /// Whether any origin is allowed.
    var allowsAnyOrigin: Bool { self.allowedOrigins.contains("*") }

    /// Whether `origin` (an `Origin` header) is allowed.
    func allows(origin: String) -> Bool {
        self.allowedOrigins.contains { pattern in
            if pattern == "*" || pattern == origin { return true }
            guard let star = pattern.range(of: "://*.") else { return false }
            // `https://*.example.org` matches `https://a.example.org`, `https://a.b.example.org`.
            let scheme = pattern[..<star.lowerBound], domain = pattern[star.upperBound...]
            guard origin.hasPrefix(scheme + "://"), origin.hasSuffix("." + domain) else { return false }
            let host = origin.dropFirst(scheme.count + 3).dropLast(domain.count + 1)
            return !host.isEmpty && !host.contains("/") && !host.contains(":")
        }
    }

    /// Whether the answer depends on the request's `Origin` (`Vary: Origin`): with `*` and no
    /// credentials it is the same for every origin.
    var variesByOrigin: Bool { !(self.allowsAnyOrigin && !self.allowCredentials) }

    /// The headers for a response to a request from `origin` (nil: none sent).
    func headers(origin: String?, preflight: (method: String, headers: String?)? = nil) -> HTTPHeaders {
        var headers = HTTPHeaders()
        let varies = self.variesByOrigin
        if varies { headers.add(name: "vary", value: "Origin") }
        guard let origin, self.allows(origin: origin) else { return headers }
        headers.add(name: "access-control-allow-origin", value: varies ? origin : "*")
        if self.allowCredentials { headers.add(name: "access-control-allow-credentials", value: "true") }
        if let preflight {
            headers.add(name: "access-control-allow-methods", value: self.allowedMethods.map(\.rawValue).joined(separator: ", "))
            if self.allowedHeaders == ["*"] {
                if let requested = preflight.headers, !requested.isEmpty {
                    headers.add(name: "access-control-allow-headers", value: requested)
                    if varies { headers.replaceOrAdd(name: "vary", value: "Origin, Access-Control-Request-Headers") }
                }
            } else if !self.allowedHeaders.isEmpty {
                headers.add(name: "access-control-allow-headers", value: self.allowedHeaders.joined(separator: ", "))
            }
            if let maxAge = self.maxAge { headers.add(name: "access-control-max-age", value: String(maxAge.components.seconds)) }
        } else if !self.exposedHeaders.isEmpty {
            headers.add(name: "access-control-expose-headers", value: self.exposedHeaders.joined(separator: ", "))
        }
        return headers
    }
}

/// A CORS policy that cannot work: `*` origins with credentials (browsers refuse it).
public struct CORSConfigurationError: Error, CustomStringConvertible {
    public let description: String
}

extension RouteBuilder {
    /// Sets the CORS policy of this app or blueprint (and of the blueprints under it that have
    /// none of their own). Throws at start-up for `*` origins with credentials, which browsers
    /// refuse, and for an empty list of origins.
    @discardableResult
    public func cors(_ policy: CORS) throws -> Self {
        if policy.allowsAnyOrigin && policy.allowCredentials {
            throw CORSConfigurationError(
                description: "CORS: allowedOrigins \"*\" cannot be combined with allowCredentials; list the origins."
            )
        }
        if policy.allowedOrigins.isEmpty {
            throw CORSConfigurationError(description: "CORS: allowedOrigins is empty; list the origins (or \"*\").")
        }
        self.blueprint.register("a CORS policy") { $0.hooks.cors = policy }
        return self
    }
}

extension AppResponder {
    /// The answer to a CORS preflight whose path has a policy, before routing; nil otherwise.
    func preflight(_ request: Request) -> Response? {
        guard request.method == .OPTIONS, let origin = request.headers.first(name: "origin"),
            let method = request.headers.first(name: "access-control-request-method")
        else { return nil }
        let chain: [Blueprint.Hooks]
        if case .found(let route, _) = self.services.routes.match(HTTPMethod(rawValue: method), request.pathSegments) {
            chain = route.hooks
        } else {
            chain = self.services.routes.hooksChain(for: request.pathSegments)
        }
        guard let policy = chain.reversed().lazy.compactMap(\.cors).first else { return nil }
        let headers = policy.headers(origin: origin, preflight: (method, request.headers.first(name: "access-control-request-headers")))
        return Response(status: .noContent, headers: headers)
    }

    /// Adds the CORS headers of the request's policy to `response`.
    func addCORSHeaders(_ response: inout Response, for request: Request) {
        let chain = request.route?.hooks ?? self.services.routes.hooksChain(for: request.pathSegments)
        guard let policy = chain.reversed().lazy.compactMap(\.cors).first else { return }
        guard !response.headers.contains(name: "access-control-allow-origin") else { return }
        guard let origin = request.headers.first(name: "origin") else {
            // Not a cross-origin request (most are not): only caches need to hear that it varies.
            if policy.variesByOrigin { response.headers.addVary("Origin") }
            return
        }
        for (name, value) in policy.headers(origin: origin) {
            if name == "vary" { response.headers.addVary(value) } else { response.headers.replaceOrAdd(name: name, value: value) }
        }
    }
}

extension HTTPHeaders {
    /// Adds `value` (comma-separated names) to `Vary`, once each.
    public mutating func addVary(_ value: String) {
        // Runs for most responses (CORS, compression): plain byte trimming, no Foundation.
        func trimmed(_ part: Substring) -> Substring {
            var part = part
            while let first = part.utf8.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { part = part.dropFirst() }
            while let last = part.utf8.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { part = part.dropLast() }
            return part
        }
        let hasVary = self.contains(name: "vary")
        if !hasVary, !value.isEmpty, !value.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) {
            // One name and no `Vary` yet (the usual case): nothing to merge.
            self.add(name: "vary", value: value)
            return
        }
        let existing = hasVary ? self[canonicalForm: "vary"].map { $0.lowercased() } : []
        let new = value.split(separator: ",").map(trimmed).filter { !$0.isEmpty && !existing.contains($0.lowercased()) }
        guard !new.isEmpty else { return }
        if existing.contains("*") { return }
        self.add(name: "vary", value: new.joined(separator: ", "))
    }
}
