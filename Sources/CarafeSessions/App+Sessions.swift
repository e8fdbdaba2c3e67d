import CarafeCore
import Foundation

extension App {
    /// Turns on signed-cookie sessions (Flask's `session`): from now on every request has a
    /// `req.session`, kept by the client in a cookie signed with `secretKey`.
    ///
    ///     try app.sessions(secretKey: ProcessInfo.processInfo.environment["SECRET_KEY"]!)
    ///     app.post("/login") { req in
    ///         ...
    ///         req.session["user_id"] = String(user.id)
    ///         return Response.redirect(to: "/", status: .seeOther)
    ///     }
    ///
    /// - Parameters:
    ///   - secretKey: at least 32 bytes of random data (`openssl rand -hex 32`), the same in
    ///     every process of the app; shorter throws `SecretKeyTooShort`. Whoever knows it can
    ///     forge any session.
    ///   - oldSecretKeys: keys that were `secretKey` before, still accepted so that changing the
    ///     key logs nobody out. A session signed with one is signed again with `secretKey`.
    ///   - cookieName: the cookie's name.
    ///   - maxAge: how long a session lasts after it last changed: the cookie's `Max-Age`, and
    ///     the age past which a signed cookie is refused whatever the client says. 31 days, as
    ///     Flask's `PERMANENT_SESSION_LIFETIME`.
    ///   - secure: send the cookie over HTTPS only (`Secure`). Turn it on in production.
    ///   - sameSite: `Lax` by default: the cookie goes along on links from other sites, not on
    ///     their forms' POSTs or their scripts' requests.
    ///   - domain: the cookie's `Domain`; nil for the host that set it only.
    ///
    /// The cookie is always `HttpOnly` (out of reach of scripts) with `Path=/`.
    public func sessions(
        secretKey: String,
        oldSecretKeys: [String] = [],
        cookieName: String = "session",
        maxAge: Duration = .seconds(31 * 24 * 3600),
        secure: Bool = false,
        sameSite: Cookie.SameSite = .lax,
        domain: String? = nil
    ) throws {
        self.sessions(
            SessionSettings(
                signer: try SessionSigner(secretKey: secretKey, oldSecretKeys: oldSecretKeys),
                cookieName: cookieName,
                maxAgeSeconds: Int(maxAge.components.seconds),
                secure: secure,
                sameSite: sameSite,
                domain: domain,
                now: { Date() }
            )
        )
    }

    /// Installs sessions: the settings go in the app's storage, where `req.session` finds them
    /// when it is first used (so hooks registered before this one can use the session too), and
    /// an after-hook sends the cookie when the session changed.
    func sessions(_ settings: SessionSettings) {
        self.storage[SessionSettings.Key.self] = settings
        self.after { req, response in
            guard let session = req.storage[Session.Key.self], session.settings != nil, session.wasUsed else { return response }
            var response = response
            response.headers.add(name: "vary", value: "Cookie")
            guard session.isModified else { return response }
            let values = session.values
            if values.isEmpty {
                if session.cookie != nil { response.deleteCookie(settings.cookieName, path: "/", domain: settings.domain) }
            } else {
                let cookie = settings.cookie(for: values)
                if cookie.headerValue.utf8.count > 4093 {
                    Session.logger.warning(
                        "the session cookie is \(cookie.headerValue.utf8.count) bytes, more than the 4093 browsers keep: they will drop it; store less in the session"
                    )
                }
                response.setCookie(cookie)
            }
            return response
        }
    }
}

extension Request {
    /// This request's session (Flask's `session`), read from its cookie on first use. Needs
    /// `app.sessions(secretKey:)`; in an app without sessions it is empty, is not saved, and a
    /// warning says so.
    public var session: Session {
        if let session = self.storage[Session.Key.self] { return session }
        guard let settings = self.appStorage[SessionSettings.Key.self] else {
            Session.logger.warning(
                "req.session used in \(self.method.rawValue) \(self.path) in an app without sessions: it is empty and will not be saved; call `try app.sessions(secretKey:)` before serving"
            )
            return self.storage.get(Session.Key.self) { Session(cookie: nil, settings: nil) }
        }
        return self.storage.get(Session.Key.self) { Session(cookie: self.cookies[settings.cookieName], settings: settings) }
    }
}

extension SessionSettings {
    /// Where the app keeps its session settings.
    enum Key: StorageKey { typealias Value = SessionSettings }
}

extension Session {
    /// Where a request keeps its session.
    enum Key: StorageKey { typealias Value = Session }
    static let logger = Logger(label: "carafe.sessions")
}
