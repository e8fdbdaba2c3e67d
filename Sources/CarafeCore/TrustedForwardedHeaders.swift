/// Which forwarded headers Carafe reads from a trusted proxy (`App.forwardedAllowIPs`): trust
/// per header, and explicit, as Werkzeug's `ProxyFix` takes a count per header and nginx's
/// realip module takes one header.
///
/// By default (`.default`) only `X-Forwarded-For`, `-Proto`, `-Host` and `-Port`: the headers
/// the recommended nginx configuration sets, overwriting what a client sent. `Forwarded`
/// (RFC 7239) and `X-Forwarded-Prefix` are off, because a proxy that does not set them passes
/// a client's own through, and a client's `Forwarded: for=…;proto=https;host=evil.example`
/// would then decide the app's idea of the client, its scheme and its host. Turn on what your
/// proxy sets (and clears): an app mounted under a prefix adds `.xForwardedPrefix`.
///
///     app.forwardedHeaders.insert(.xForwardedPrefix)          // nginx: proxy_set_header X-Forwarded-Prefix /shop;
///     $ app serve --forwarded-headers x-forwarded-for,x-forwarded-proto,x-forwarded-prefix
public struct TrustedForwardedHeaders: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// `X-Forwarded-For`: the client's address (`req.remoteAddress`).
    public static let xForwardedFor = Self(rawValue: 1 << 0)
    /// `X-Forwarded-Proto`: `req.scheme`.
    public static let xForwardedProto = Self(rawValue: 1 << 1)
    /// `X-Forwarded-Host`: `req.host`.
    public static let xForwardedHost = Self(rawValue: 1 << 2)
    /// `X-Forwarded-Port`: the port in `req.host`.
    public static let xForwardedPort = Self(rawValue: 1 << 3)
    /// `X-Forwarded-Prefix`: `req.scriptRoot`. Off by default.
    public static let xForwardedPrefix = Self(rawValue: 1 << 4)
    /// RFC 7239 `Forwarded` (`for=`, `proto=`, `host=`); when on and present it wins over the
    /// `X-Forwarded-*` headers. Off by default.
    public static let forwarded = Self(rawValue: 1 << 5)

    /// `X-Forwarded-For`, `-Proto`, `-Host`, `-Port`.
    public static let `default`: Self = [.xForwardedFor, .xForwardedProto, .xForwardedHost, .xForwardedPort]
    /// None: the socket's peer is the client, whoever it is.
    public static let none: Self = []

    /// Each header by its lowercased name.
    static let names: [(String, Self)] = [
        ("x-forwarded-for", .xForwardedFor), ("x-forwarded-proto", .xForwardedProto), ("x-forwarded-host", .xForwardedHost),
        ("x-forwarded-port", .xForwardedPort), ("x-forwarded-prefix", .xForwardedPrefix), ("forwarded", .forwarded),
    ]

    /// Parses a comma-separated list of header names, case-insensitive (`x-forwarded-for,forwarded`);
    /// an empty list (or `none`) trusts none. Throws naming an unknown header and the known ones.
    public init(parsing text: String) throws(TrustedForwardedHeadersError) {
        var set: Self = []
        for entry in text.split(separator: ",") {
            let name = entry.trimmingSpaces.lowercased()
            if name.isEmpty || name == "none" { continue }
            guard let header = Self.names.first(where: { $0.0 == name })?.1 else {
                throw TrustedForwardedHeadersError(entry: name)
            }
            set.insert(header)
        }
        self = set
    }

    /// The header names, comma-separated, as `init(parsing:)` reads them; `none` for none.
    public var description: String {
        let names = Self.names.filter { self.contains($0.1) }.map(\.0)
        return names.isEmpty ? "none" : names.joined(separator: ",")
    }
}

/// A `--forwarded-headers` entry that is not one of the headers Carafe reads.
public struct TrustedForwardedHeadersError: Error, CustomStringConvertible {
    public let entry: String
    public var description: String {
        "unknown forwarded header '\(self.entry)'; known: \(TrustedForwardedHeaders.names.map(\.0).joined(separator: ", "))"
    }
}
