import CarafeCore
import Synchronization

/// Cross-site request forgery protection (Flask-WTF's `CSRFProtect`): every POST, PUT, PATCH
/// and DELETE must carry the session's CSRF token, in a form field `csrf_token` (of a URL-encoded
/// or a `multipart/form-data` form, read as it arrives before the handler) or a header
/// `X-CSRF-Token` (or `X-CSRFToken`); one that does not is answered `400 Bad Request` with
/// "CSRF token missing or incorrect", and its handler does not run.
///
///     try app.sessions(secretKey: key)
///     let csrf = app.csrfProtection()
///     csrf.exempt(api)                    // a blueprint whose clients authenticate otherwise
///     csrf.exempt(route: "webhook")       // a route, by name
///
/// and in every form (`req.csrfToken` in the template's context):
///
///     <input type="hidden" name="csrf_token" value="{{csrf_token}}">
///
/// Another site can make a browser send a form to this one, with its cookies, but it cannot read
/// this site's pages, so it cannot know the token. The token is one per session, random, kept
/// in the session, and compared in constant time. GET, HEAD, OPTIONS and TRACE are not checked:
/// they must not change anything. Requests for which no route matched are not checked either
/// (they get their 404 or 405). On routes that stream their body (`body: .stream`) only the
/// header is looked at: the form is not read before the handler.
public final class CSRFProtection: Sendable {
    private struct Exemptions {
        var blueprints: Set<ObjectIdentifier> = []
        var routes: Set<String> = []
    }

    private let exemptions = Mutex(Exemptions())

    /// The form field that carries the token.
    public static let formField = "csrf_token"
    /// The headers that carry it, for scripts: `X-CSRF-Token`, and Flask-WTF's `X-CSRFToken`.
    public static let headers = ["x-csrf-token", "x-csrftoken"]
    /// The message of the 400 (Flask-WTF's wording), followed by what exactly was wrong.
    public static let failureMessage = "CSRF token missing or incorrect"

    init() {}

    /// Leaves the routes of `blueprint` (and of the blueprints registered on it) unchecked: for
    /// a JSON API whose clients send a token in a header rather than a cookie.
    @discardableResult
    public func exempt(_ blueprint: Blueprint) -> Self {
        self.exemptions.withLock { _ = $0.blueprints.insert(ObjectIdentifier(blueprint)) }
        return self
    }

    /// Leaves the route named `name` (its full name, with blueprint names: `api.hook`) unchecked.
    @discardableResult
    public func exempt(route name: String) -> Self {
        self.exemptions.withLock { _ = $0.routes.insert(name) }
        return self
    }

    /// Throws the 400 unless `req` may pass.
    func check(_ req: Request) throws {
        guard !Self.safeMethods.contains(req.method), let route = req.route, !self.isExempt(route) else { return }
        let sent = Self.headers.lazy.compactMap { req.headers.first(name: $0) }.first ?? req.form[Self.formField]
        guard let sent, !sent.isEmpty else {
            throw HTTPError(.badRequest, "\(Self.failureMessage): the request has no csrf_token form field and no X-CSRF-Token header.")
        }
        guard let expected = req.session[Self.sessionKey] else {
            throw HTTPError(
                .badRequest,
                "\(Self.failureMessage): the session has no CSRF token (it expired, or the browser keeps no cookies); reload the form."
            )
        }
        guard ConstantTime.equals(Array(sent.utf8), Array(expected.utf8)) else {
            throw HTTPError(.badRequest, "\(Self.failureMessage): the token does not match this session's; reload the form.")
        }
    }

    private func isExempt(_ route: Route) -> Bool {
        self.exemptions.withLock { exemptions in
            route.name.map { exemptions.routes.contains($0) } == true
                || route.blueprints.contains { exemptions.blueprints.contains(ObjectIdentifier($0)) }
        }
    }

    private static let safeMethods: [HTTPMethod] = [.GET, .HEAD, .OPTIONS, .TRACE]
    /// Where the session keeps the token.
    static let sessionKey = "_csrf_token"
}

extension App {
    /// Turns on CSRF protection for every route of the app (see `CSRFProtection`). Needs
    /// sessions: call it after `app.sessions(secretKey:)`. Returns the protection, to exempt
    /// blueprints and routes from it.
    @discardableResult
    public func csrfProtection() -> CSRFProtection {
        let protection = CSRFProtection()
        self.before { req in
            try protection.check(req)
            return nil
        }
        return protection
    }
}

extension Request {
    /// The session's CSRF token, made on first use: put it in every form as a hidden field
    /// `csrf_token`, or send it from scripts in an `X-CSRF-Token` header.
    public var csrfToken: String {
        if let token = self.session[CSRFProtection.sessionKey] { return token }
        var generator = SystemRandomNumberGenerator()
        let token = Base64URL.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        self.session[CSRFProtection.sessionKey] = token
        return token
    }
}
