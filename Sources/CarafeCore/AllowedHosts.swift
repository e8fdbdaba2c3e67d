/// The host names an app answers for (`App.allowedHosts`, `--allowed-hosts`), written as
/// Django writes `ALLOWED_HOSTS`: `example.com` (that name), `.example.com` (that name and every
/// subdomain), `localhost`, `127.0.0.1`, `[::1]`, or `*` (any).
///
/// Without it, whatever a client puts in `Host` comes back in `req.host` and so in every
/// external URL the app builds (`url(for:external:)`, a password-reset link, a redirect): a
/// host-header attack. With it, a request for another host gets 400 before any hook or
/// handler runs. Names compare case-insensitively, without the port and a trailing dot.
public struct AllowedHosts: Sendable, Hashable, CustomStringConvertible {
    /// The patterns, lowercased: `example.com`, `.example.com`, `*`.
    public let patterns: [String]

    /// Parses a comma-separated list; throws for an empty one or a pattern with characters no
    /// host name has.
    public init(parsing text: String) throws(AllowedHostsError) {
        let patterns = text.split(separator: ",").map { String($0.trimmingSpaces).lowercased() }.filter { !$0.isEmpty }
        guard !patterns.isEmpty else { throw AllowedHostsError(entry: text, reason: "the list is empty") }
        for pattern in patterns where pattern != "*" {
            guard ForwardedHeaders.validHost(pattern) != nil, !pattern.hasPrefix(".."), pattern != "." else {
                throw AllowedHostsError(entry: pattern, reason: "not a host name, '.domain' or '*'")
            }
        }
        self.patterns = patterns
    }

    /// `AllowedHosts(["example.com", ".example.org"])`; traps on a pattern `init(parsing:)` refuses.
    public init(_ patterns: [String]) {
        do {
            try self.init(parsing: patterns.joined(separator: ","))
        } catch {
            preconditionFailure("\(error)")
        }
    }

    /// Whether `host` (`Host`'s value: `example.com:8080`, `[::1]:80`) is allowed. Nil (no
    /// host at all) is not, unless `*` is in the list.
    public func allows(_ host: String?) -> Bool {
        if self.patterns.contains("*") { return true }
        guard let host, let name = Self.name(of: host) else { return false }
        return self.patterns.contains { pattern in
            if pattern.hasPrefix(".") { return name == pattern.dropFirst() || name.hasSuffix(pattern) }
            return name == pattern
        }
    }

    /// The host name of a `Host` value, lowercased, without port and trailing dot.
    static func name(of host: String) -> String? {
        var text = Substring(host.lowercased())
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            return String(text[...close])
        }
        if let colon = text.lastIndex(of: ":") { text = text[..<colon] }
        if text.hasSuffix(".") { text.removeLast() }
        return text.isEmpty ? nil : String(text)
    }

    public var description: String { self.patterns.joined(separator: ",") }
}

/// An `--allowed-hosts` entry that is not a host name, `.domain` or `*`.
public struct AllowedHostsError: Error, CustomStringConvertible {
    public let entry: String
    public let reason: String
    public var description: String { "invalid allowed host '\(self.entry)': \(self.reason)" }
}
