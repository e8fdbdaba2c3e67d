import CarafeCore
import Synchronization

/// The cookies a test client keeps between requests, as a browser does (Flask's test client
/// keeps them too). Get a client that uses one with `app.test.keepingCookies()`.
///
/// Cookies are kept by name, with their values as sent on the wire. Domain, path, expiry and
/// `Secure` are ignored: every request sends every cookie. A `Max-Age=0` deletes one.
public final class TestCookieJar: Sendable {
    private let cookies = Mutex<[String: String]>([:])

    public init() {}

    /// The value of cookie `name` as the server set it; nil if there is none.
    public subscript(name: String) -> String? {
        get { self.cookies.withLock { $0[name] } }
        set { self.cookies.withLock { $0[name] = newValue } }
    }

    /// Every cookie, by name.
    public var all: [String: String] { self.cookies.withLock { $0 } }

    /// Forgets every cookie (a new browser).
    public func removeAll() {
        self.cookies.withLock { $0.removeAll() }
    }

    /// The `Cookie` header to send; nil when there is no cookie.
    var header: String? {
        let all = self.all
        return all.isEmpty ? nil : all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
    }

    /// Keeps what the `Set-Cookie` headers of a response say.
    func store(_ setCookieHeaders: [String]) {
        self.cookies.withLock { cookies in
            for header in setCookieHeaders {
                let parts = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let pair = parts.first, let equals = pair.firstIndex(of: "=") else { continue }
                let name = String(pair[..<equals])
                let deleted = parts.dropFirst().contains { $0.lowercased() == "max-age=0" }
                cookies[name] = deleted ? nil : String(pair[pair.index(after: equals)...])
            }
        }
    }
}
