/// Which pages may open a WebSocket route (`websocket(_:origins:…)`, or for every route that
/// passes none, `App.webSocketOrigins` and `serve --websocket-allowed-origins`): the check of
/// the handshake's `Origin` that stops cross-site WebSocket hijacking.
///
/// A browser sends the user's cookies with a WebSocket handshake whatever page opened it, and
/// the same-origin policy does not apply to WebSockets: without a check, a page on
/// `evil.example` can open the app's socket as the logged-in user and read what it sends.
/// Browsers always send `Origin` on the handshake; the server must compare it.
///
/// **Cookie-authenticated** here means: the handshake carries a `Cookie` header, which is how
/// a browser session (`app.sessions`) authenticates it. By default (`.default`) such a
/// handshake must come from the app's own origin (the scheme and host the request came to:
/// `req.scheme`, `req.host`, so behind a trusted proxy the public ones) or from one of
/// `allowed`; otherwise it gets 403 naming the origin. A handshake without cookies (a native
/// client, a token in the URL or the first message) has nothing a foreign page could borrow,
/// and any origin may open it. A cookie-authenticated handshake without `Origin` is not from a
/// browser (which always sends one) and is let through.
///
///     app.webSocketOrigins = WebSocketOrigins(["http://localhost:3000"])        // the app's default
///     app.websocket("/live") { req, ws in … }                                    // the app's default
///     app.websocket("/live", origins: WebSocketOrigins(["https://admin.example.com"])) { … }
///     app.websocket("/public", origins: .any) { … }                              // no check
///     app.websocket("/strict", origins: WebSocketOrigins(checking: .always)) { … }
public struct WebSocketOrigins: Sendable, Hashable {
    /// Which handshakes are checked.
    public enum Scope: Sendable, Hashable {
        /// Those that carry a `Cookie` header (the default).
        case cookieAuthenticated
        /// Every one: `Origin` must be present and allowed.
        case always
        /// None: any page may connect.
        case never
    }

    /// Origins allowed besides the app's own, as browsers write them: `https://example.com`,
    /// `http://localhost:3000`; compared case-insensitively, default ports ignored.
    public var allowed: [String]
    public var scope: Scope

    public init(_ allowed: [String] = [], checking scope: Scope = .cookieAuthenticated) {
        self.allowed = allowed
        self.scope = scope
    }

    /// The app's own origin, and checked only with cookies.
    public static let `default` = WebSocketOrigins()
    /// No check.
    public static let any = WebSocketOrigins(checking: .never)

    /// The value of `--websocket-allowed-origins`: origins separated by commas, each
    /// `scheme://host[:port]` (http or https), or `*` for no check; throws naming an entry that
    /// is not an origin. Keeps `scope` (cookie-authenticated handshakes by default).
    public init(parsing text: String, checking scope: Scope = .cookieAuthenticated) throws {
        let entries = text.split(separator: ",").map { String($0.trimmingSpaces) }.filter { !$0.isEmpty }
        if entries == ["*"] {
            self.init(checking: .never)
            return
        }
        for entry in entries where Self.normalized(entry) == nil {
            throw WebSocketOriginsError(entry: entry)
        }
        self.init(entries, checking: scope)
    }

    /// Nil if the handshake may go on; else why not, for the 403.
    package func problem(origin: String?, hasCookies: Bool, scheme: String, host: String?) -> String? {
        switch self.scope {
        case .never: return nil
        case .cookieAuthenticated:
            guard hasCookies, let origin else { return nil }
            return self.allows(origin, scheme: scheme, host: host) ? nil : self.refusal(origin, scheme: scheme, host: host)
        case .always:
            guard let origin else { return "A WebSocket handshake without Origin is refused here." }
            return self.allows(origin, scheme: scheme, host: host) ? nil : self.refusal(origin, scheme: scheme, host: host)
        }
    }

    private func allows(_ origin: String, scheme: String, host: String?) -> Bool {
        guard let given = Self.normalized(origin) else { return false }
        if let host, let own = Self.normalized("\(scheme)://\(host)"), own == given { return true }
        return self.allowed.contains { Self.normalized($0) == given }
    }

    private func refusal(_ origin: String, scheme: String, host: String?) -> String {
        let own = host.map { "\(scheme)://\($0)" } ?? "(no host)"
        let shown = origin.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F } ? origin : "(not printable)"
        return
            "WebSocket connections from origin '\(shown)' are not allowed: only \(([own] + self.allowed).joined(separator: ", ")) (WebSocketOrigins)."
    }

    /// `scheme://host[:port]`, lowercased, without the scheme's default port; nil for `null`
    /// and anything that is not an origin.
    package static func normalized(_ origin: String) -> String? {
        let text = origin.lowercased()
        guard let separator = text.range(of: "://") else { return nil }
        let scheme = String(text[..<separator.lowerBound])
        var authority = Substring(text[separator.upperBound...])
        if authority.hasSuffix("/") { authority.removeLast() }
        guard ["http", "https"].contains(scheme), !authority.isEmpty, !authority.contains("/"), !authority.contains("@") else { return nil }
        let defaultPort = scheme == "https" ? ":443" : ":80"
        if authority.hasSuffix(defaultPort) { authority.removeLast(defaultPort.count) }
        return "\(scheme)://\(authority)"
    }
}

/// A `--websocket-allowed-origins` entry that is not an origin.
public struct WebSocketOriginsError: Error, CustomStringConvertible {
    public let entry: String
    public var description: String {
        "'\(self.entry)' is not an origin: write scheme://host[:port] with http or https (https://app.example.com, http://localhost:3000), or '*' alone for any"
    }
}
