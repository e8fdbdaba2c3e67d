import Foundation
import Synchronization

/// The signed-cookie session of one request (Flask's `session`): string values by key that
/// the client keeps between requests and cannot change.
///
///     req.session["user_id"] = "42"            // after logging in
///     let userID = req.session["user_id"]      // on later requests
///     req.session.clear()                      // logging out
///     req.session["cart", as: Cart.self] = cart   // any Codable value, stored as JSON
///
/// The cookie is read the first time the session is used, and a new one is sent only when the
/// session changed. A cookie that was tampered with, signed with another key, or is older than
/// the `maxAge` given to `App.sessions` counts as no cookie: the session starts empty.
/// The client can read the values (they are signed, not encrypted): keep secrets out of them.
public final class Session: Sendable {
    private struct State {
        var values: [String: String] = [:]
        var loaded = false
        var modified = false
    }

    private let state = Mutex(State())
    /// The session cookie as the client sent it; nil when it sent none.
    let cookie: String?
    /// How to read and sign the cookie; nil for a session that is never read or saved (see
    /// `Request.session`).
    let settings: SessionSettings?

    init(cookie: String?, settings: SessionSettings?) {
        self.cookie = cookie
        self.settings = settings
    }

    /// The value stored under `key`; setting nil removes it.
    public subscript(key: String) -> String? {
        get { self.withValues { $0[key] } }
        set { self.modify { $0[key] = newValue } }
    }

    /// The value stored under `key` as JSON, decoded as `T`; nil if absent or not a `T`.
    /// Setting encodes it as JSON; setting nil removes it.
    public subscript<T: Codable>(key: String, as type: T.Type) -> T? {
        get {
            self[key].flatMap { try? JSONDecoder().decode(T.self, from: Data($0.utf8)) }
        }
        set {
            self[key] = newValue.flatMap { try? String(decoding: JSONEncoder().encode($0), as: UTF8.self) }
        }
    }

    /// All values, by key.
    public var values: [String: String] { self.withValues { $0 } }

    /// Whether the session holds nothing.
    public var isEmpty: Bool { self.withValues { $0.isEmpty } }

    /// Removes every value (logging out). The client is told to delete its cookie.
    public func clear() {
        self.modify { $0.removeAll() }
    }

    /// Whether a handler or hook changed the session during this request: then, and only then,
    /// a new cookie is sent.
    public var isModified: Bool { self.state.withLock { $0.modified } }

    /// Whether anything read or wrote the session during this request (then responses get
    /// `Vary: Cookie`, so that caches keep one copy per session).
    var wasUsed: Bool { self.state.withLock { $0.loaded } }

    private func withValues<R>(_ body: ([String: String]) -> R) -> R {
        self.state.withLock { state in
            self.load(&state)
            return body(state.values)
        }
    }

    private func modify(_ body: (inout [String: String]) -> Void) {
        self.state.withLock { state in
            self.load(&state)
            body(&state.values)
            state.modified = true
        }
    }

    /// Reads the cookie on first use. One signed with an old key counts as modified, so that it
    /// goes back signed with the current key.
    private func load(_ state: inout State) {
        guard !state.loaded else { return }
        state.loaded = true
        guard let cookie = self.cookie, let settings = self.settings,
            let verified = settings.signer.verify(cookie, maxAge: settings.maxAgeSeconds, now: settings.now())
        else { return }
        state.values = verified.values
        state.modified = verified.signedWithOldKey
    }
}
