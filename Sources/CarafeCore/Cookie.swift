/// A cookie to set on the client, as a `Set-Cookie` header (RFC 6265).
///
/// Defaults are the safe ones: `Path=/`, `HttpOnly`, `SameSite=Lax`.
public struct Cookie: Sendable, Hashable {
    public enum SameSite: String, Sendable {
        case strict = "Strict", lax = "Lax", none = "None"
    }

    public var name: String
    public var value: String
    /// Lifetime in seconds; nil makes a session cookie, 0 deletes the cookie.
    public var maxAge: Int?
    public var path: String?
    public var domain: String?
    public var secure: Bool
    public var httpOnly: Bool
    public var sameSite: SameSite?

    public init(
        _ name: String,
        _ value: String,
        maxAge: Int? = nil,
        path: String? = "/",
        domain: String? = nil,
        secure: Bool = false,
        httpOnly: Bool = true,
        sameSite: SameSite? = .lax
    ) {
        self.name = name
        self.value = value
        self.maxAge = maxAge
        self.path = path
        self.domain = domain
        self.secure = secure
        self.httpOnly = httpOnly
        self.sameSite = sameSite
    }

    /// The `Set-Cookie` header value. The value is percent-escaped where RFC 6265 forbids a
    /// character (space, `"`, `,`, `;`, `\`, controls, non-ASCII); `Request.cookies` undoes it.
    public var headerValue: String {
        var parts = ["\(self.name)=\(Self.escape(self.value))"]
        if let maxAge = self.maxAge {
            parts.append("Max-Age=\(maxAge)")
            if maxAge == 0 { parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT") }
        }
        if let path = self.path { parts.append("Path=\(path)") }
        if let domain = self.domain { parts.append("Domain=\(domain)") }
        if self.secure || self.sameSite == SameSite.none { parts.append("Secure") }
        if self.httpOnly { parts.append("HttpOnly") }
        if let sameSite = self.sameSite { parts.append("SameSite=\(sameSite.rawValue)") }
        return parts.joined(separator: "; ")
    }

    /// Parses a `Cookie` request header (`a=1; b=2`) into names and values. Malformed pairs
    /// are skipped; a quoted value loses its quotes; percent-escapes are decoded.
    static func parse(header: String) -> [String: String] {
        var cookies: [String: String] = [:]
        for pair in header.split(separator: ";") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let name = pair[..<equals].trimmingSpaces
            var value = pair[pair.index(after: equals)...].trimmingSpaces
            guard !name.isEmpty else { continue }
            if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
            if cookies[String(name)] == nil {  // the first, most specific, wins
                cookies[String(name)] = URLEncodedForm.percentDecode(value, plusAsSpace: false) ?? String(value)
            }
        }
        return cookies
    }

    private static func escape(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            let allowed = byte > 0x20 && byte < 0x7F && byte != 0x22 && byte != 0x2C && byte != 0x3B && byte != 0x5C && byte != 0x25
            if allowed {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - self.count)) + self
    }
}
