import Foundation

/// A user name and password from `Authorization: Basic` (RFC 7617).
public struct BasicCredentials: Sendable, Hashable {
    public let username: String
    public let password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

extension Request {
    /// The credentials of an `Authorization: Basic …` header (RFC 7617: base64 of
    /// `username:password`, UTF-8); nil when there is none or it is malformed. Check the
    /// password with `PasswordHasher.verify`, and answer a failure with
    /// `HTTPError.basicAuthenticationRequired(realm:)`. Only over HTTPS: the password travels
    /// in every request.
    public var basicCredentials: BasicCredentials? {
        guard let value = self.authorization(scheme: "basic"), let data = Data(base64Encoded: value),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return BasicCredentials(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }

    /// The token of an `Authorization: Bearer …` header (RFC 6750); nil when there is none or
    /// it is not a token (`A-Za-z0-9-._~+/` and trailing `=`). Compare it with a stored one in
    /// constant time, or look up its hash; answer a failure with
    /// `HTTPError.bearerTokenRequired(realm:error:)`.
    public var bearerToken: String? {
        guard let token = self.authorization(scheme: "bearer") else { return nil }
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/".utf8)
        let body = token.utf8.reversed().drop { $0 == UInt8(ascii: "=") }
        guard !body.isEmpty, body.allSatisfy(allowed.contains) else { return nil }
        return token
    }

    /// The credentials after `scheme` (compared case-insensitively) in `Authorization`.
    private func authorization(scheme: String) -> String? {
        guard let header = self.headers.first(name: "authorization") else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == scheme else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }
}

extension HTTPError {
    /// 401 with `WWW-Authenticate: Basic realm="…", charset="UTF-8"`: browsers ask for a name and password.
    public static func basicAuthenticationRequired(realm: String, _ message: String = "A user name and password are required.") -> HTTPError
    {
        HTTPError(.unauthorized, message, headers: ["www-authenticate": #"Basic realm="\#(Self.quoted(realm))", charset="UTF-8""#])
    }

    /// 401 with `WWW-Authenticate: Bearer realm="…"` and, for a token that was sent but is not
    /// valid, `error="invalid_token"` (RFC 6750 §3).
    public static func bearerTokenRequired(realm: String, invalidToken: Bool = false, _ message: String? = nil) -> HTTPError {
        let error = invalidToken ? #", error="invalid_token""# : ""
        return HTTPError(
            .unauthorized,
            message ?? (invalidToken ? "The access token is not valid." : "An access token is required."),
            headers: ["www-authenticate": #"Bearer realm="\#(Self.quoted(realm))"\#(error)"#]
        )
    }

    private static func quoted(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").filter { $0 != "\r" && $0 != "\n" }
    }
}
