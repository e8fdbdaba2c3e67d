import CarafeCore
import Foundation
import Synchronization

/// Log-in building blocks, as Flask-Login's `LoginManager`: the logged-in user, loaded once
/// per request by the app's loader from the id the session keeps.
///
///     try app.sessions(secretKey: key)
///     app.login(User.self, loginPage: "/login") { req, id in
///         try await req.db.first("SELECT id, username, session_version FROM users WHERE id = \(Int(id) ?? -1)", as: User.self)
///     }
///     app.post("/login") { req in
///         ... check the password ...
///         req.logIn(user)                     // a new session, a new CSRF token
///         return Response.redirect(to: req.nextPage ?? "/", status: .seeOther)
///     }
///     app.get("/settings") { req in
///         let user = try req.requireUser(User.self)   // 401 for JSON clients, a redirect to the log-in page for browsers
///         ...
///     }
///
/// The loader runs in a before-hook, once per request whose session names a user: return nil
/// for a user that no longer exists. A session whose `sessionVersion` is not the user's any
/// more (see `SessionUser`) is logged out as it loads: that is how sessions are revoked.
public struct LoginManager: Sendable {
    /// Where `requireUser` sends browsers that are not logged in, with `?next=` the page they asked for.
    public let loginPage: String
}

extension App {
    /// Turns on log-in (see `LoginManager`). Call it after `sessions(secretKey:)`.
    ///
    /// - Parameters:
    ///   - type: the app's user type.
    ///   - loginPage: the log-in page's path, where browsers are sent by `requireUser`.
    ///   - loader: the user whose `sessionID` is the given id, or nil if there is none.
    ///   - requestLoader: for a request whose session names no user, the user its own
    ///     credentials name (Flask-Login's `request_loader`): `req.basicCredentials` or
    ///     `req.bearerToken`, checked by the app; nil for none. Such a user is `req.user` for
    ///     this request only: nothing goes in the session.
    @discardableResult
    public func login<User: SessionUser>(
        _ type: User.Type,
        loginPage: String = "/login",
        loader: @escaping @Sendable (Request, String) async throws -> User?,
        requestLoader: (@Sendable (Request) async throws -> User?)? = nil
    ) -> LoginManager {
        let manager = LoginManager(loginPage: loginPage)
        self.before { req in
            req.storage[LoginState.Key.self] = LoginState(manager: manager)
            guard let id = req.session[LoginState.userKey] else {
                if let requestLoader { req.loginState?.user = try await requestLoader(req) }
                return nil
            }
            guard let user = try await loader(req, id), user.sessionVersion == (req.session[LoginState.versionKey] ?? "") else {
                // Gone, or revoked: this session is over.
                req.session.clear()
                return nil
            }
            req.loginState?.user = user
            return nil
        }
        self.templateGlobals.set("current_user") { req in req.loginState?.user }
        return manager
    }
}

/// What a request knows about its user.
final class LoginState: Sendable {
    /// Where a request keeps it.
    enum Key: StorageKey { typealias Value = LoginState }
    static let userKey = "_user_id"
    static let versionKey = "_user_version"
    let manager: LoginManager
    private let current = Mutex<(any SessionUser)?>(nil)

    init(manager: LoginManager) {
        self.manager = manager
    }

    /// The logged-in user, nil for a visitor.
    var user: (any SessionUser)? {
        get { self.current.withLock { $0 } }
        set { self.current.withLock { $0 = newValue } }
    }
}

extension Request {
    var loginState: LoginState? { self.storage[LoginState.Key.self] }

    /// The logged-in user (Flask-Login's `current_user`), nil for a visitor. Needs `app.login`.
    public var user: (any SessionUser)? { self.loginState?.user }

    /// The logged-in user as the app's type, nil for a visitor.
    public func user<User: SessionUser>(_ type: User.Type) -> User? { self.user as? User }

    /// The logged-in user, or `LoginRequired` (Flask-Login's `login_required`): a 401 for a
    /// client that asks for JSON, a 303 to the log-in page with `?next=` for a browser.
    public func requireUser<User: SessionUser>(_ type: User.Type) throws -> User {
        guard let user = self.user(type) else { throw LoginRequired(self) }
        return user
    }

    /// Logs `user` in: the session starts anew (every value it held is dropped, so a session
    /// planted before log-in carries nothing over) and gets a new CSRF token; it then holds
    /// the user's id and `sessionVersion`.
    public func logIn(_ user: some SessionUser) {
        self.session.clear()
        self.session[LoginState.userKey] = user.sessionID
        self.session[LoginState.versionKey] = user.sessionVersion
        self.loginState?.user = user
    }

    /// Logs out: the session is emptied (the client is told to delete its cookie) and the CSRF
    /// token with it. A copy of the old cookie still names the user until their
    /// `sessionVersion` changes: change it here to end every session (see `SessionUser`).
    public func logOut() {
        self.session.clear()
        self.loginState?.user = nil
    }

    /// `?next=` if it is a path on this site (`/…`, not `//host`): where to go after logging in.
    public var nextPage: String? {
        guard let next = self.query["next"] ?? self.form["next"], next.hasPrefix("/"), !next.hasPrefix("//"), !next.hasPrefix("/\\") else {
            return nil
        }
        return next
    }
}

/// A page that needs a logged-in user, asked for without one: 401 Unauthorized for clients
/// that want JSON (an `Accept` with json and no html, or a JSON body, or `X-Requested-With`),
/// else 303 See Other to the log-in page with the page asked for as `?next=`.
public struct LoginRequired: Error, HTTPErrorConvertible, Sendable {
    /// Where a browser is sent; nil for a JSON client.
    public let location: String?

    public init(_ req: Request) {
        if Self.wantsJSON(req) {
            self.location = nil
        } else {
            let page = req.loginState?.manager.loginPage ?? "/login"
            let next = req.method == .GET ? req.scriptRoot + req.uri : nil
            self.location =
                req.scriptRoot + page
                + (next.map { "?next=" + ($0.addingPercentEncoding(withAllowedCharacters: Self.queryValue) ?? "") } ?? "")
        }
    }

    public var httpError: HTTPError {
        guard let location else { return HTTPError(.unauthorized, "Log in first.") }
        return HTTPError(.seeOther, "Log in first.", headers: ["location": location])
    }

    private static let queryValue = CharacterSet.urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+#?"))

    static func wantsJSON(_ req: Request) -> Bool {
        let accept = req.headers.first(name: "accept") ?? ""
        if accept.contains("json"), !accept.contains("html") { return true }
        if req.mediaType?.contains("json") == true { return true }
        return req.headers.first(name: "x-requested-with")?.lowercased() == "xmlhttprequest"
    }
}

extension RouteBuilder {
    /// Every route here needs a logged-in user (Flask-Login's `login_required` on a blueprint):
    /// a before-hook answers `LoginRequired` for a visitor. Needs `app.login`, registered before.
    @discardableResult
    public func requireLogin() -> Self {
        self.before { req in
            guard req.user != nil else { throw LoginRequired(req) }
            return nil
        }
    }
}
