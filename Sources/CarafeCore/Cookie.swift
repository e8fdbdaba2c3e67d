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

    /// The `Set-Cookie` header value. Nothing in a name, value, path or domain can add an
    /// attribute or end the header, whoever chose it:
    ///
    /// - the value is percent-escaped where RFC 6265 forbids a character (space, `"`, `,`, `;`,
    ///   `\`, `%`, controls, non-ASCII), and the name wherever a token may not have it (those and
    ///   `=`, `(`, `)`, `/`, `:`, `<`, `>`, `?`, `@`, `[`, `]`, `{`, `}`); `Request.cookies` undoes both;
    /// - in the path, `;`, spaces, controls and non-ASCII are percent-escaped, which a URL path
    ///   allows;
    /// - a domain that is not a host name (letters, digits, `-`, `.`) is left out, making the
    ///   cookie the setting host's only, the narrower choice.
    public var headerValue: String {
        var parts = ["\(Self.escape(self.name, keeping: Self.isTokenByte))=\(Self.escape(self.value, keeping: Self.isValueByte))"]
        if let maxAge = self.maxAge {
            parts.append("Max-Age=\(maxAge)")
            if maxAge == 0 { parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT") }
        }
        if let path = self.path { parts.append("Path=\(Self.escape(path, keeping: Self.isPathByte))") }
        if let domain = self.domain, Self.isDomain(domain) { parts.append("Domain=\(domain)") }
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
            let decodedName = URLEncodedForm.percentDecode(name, plusAsSpace: false) ?? String(name)
            if cookies[decodedName] == nil {  // the first, most specific, wins
                cookies[decodedName] = URLEncodedForm.percentDecode(value, plusAsSpace: false) ?? String(value)
            }
        }
        return cookies
    }

    private static func escape(_ text: String, keeping allowed: (UInt8) -> Bool) -> String {
        guard !text.utf8.allSatisfy(allowed) else { return text }
        var out = ""
        for byte in text.utf8 {
            if allowed(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// RFC 6265's cookie-octet, less `%` (the escape character).
    private static func isValueByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F && byte != 0x22 && byte != 0x2C && byte != 0x3B && byte != 0x5C && byte != 0x25
    }

    /// RFC 9110's tchar, less `%`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// What a `Path` attribute may hold as it is: visible ASCII but `;`.
    private static func isPathByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F && byte != 0x3B
    }

    /// A host name: letters, digits, `-` and `.`, at most 253 of them, with an optional leading `.`.
    private static func isDomain(_ domain: String) -> Bool {
        !domain.isEmpty && domain.utf8.count <= 254
            && domain.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "."):
                    true
                default: false
                }
            }
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
