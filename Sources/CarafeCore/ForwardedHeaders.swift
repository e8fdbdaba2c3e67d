import CarafeHTTP
import Foundation

/// What a request looks like from the client's side of a reverse proxy: the client's address,
/// the scheme and host it used, and the path prefix the proxy mounted the app under. This is
/// Werkzeug's `ProxyFix` and Gunicorn's `--forwarded-allow-ips`.
///
/// The headers are read only when the socket's peer is trusted (`App.forwardedAllowIPs`);
/// from any other peer they are ignored, so a client cannot claim another address. Of a
/// trusted peer's, only those in `App.forwardedHeaders` are read (by default `X-Forwarded-For`,
/// `-Proto`, `-Host` and `-Port`); when `Forwarded` is among them and present, it is read
/// instead of those four; `X-Forwarded-Prefix`, when trusted, gives the prefix in both cases.
///
/// The client is found as nginx's `real_ip_recursive` finds it: walking the list of addresses
/// from the right (the hop nearest this server), skipping the trusted ones, the first untrusted
/// address is the client; a client can prepend made-up addresses, but not past a trusted proxy.
/// The scheme, host and port are the last values given (those of the nearest proxy).
struct ForwardedHeaders {
    var client: SocketAddress?
    var scheme = "http"
    /// The host the proxy forwarded (`X-Forwarded-Host`, `-Port`, `Forwarded: host=`); nil when
    /// it said none, and `Host` applies.
    var host: String?
    var prefix = ""

    init(
        headers: HTTPHeaders,
        peer: SocketAddress?,
        trusted: TrustedAddresses,
        accepting accepted: TrustedForwardedHeaders = .default,
        secure: Bool = false
    ) {
        self.client = peer
        if secure { self.scheme = "https" }
        guard !accepted.isEmpty, trusted.contains(peer) else { return }
        var forwarded: [String] = []
        var forwardedFor: [String] = []
        var proto: String?
        var host: String?
        var port: String?
        var prefix: String?
        for (name, value) in headers {
            guard let first = name.utf8.first, first | 0x20 == UInt8(ascii: "x") || first | 0x20 == UInt8(ascii: "f") else { continue }
            switch name.lowercased() {
            case "forwarded" where accepted.contains(.forwarded): forwarded.append(value)
            case "x-forwarded-for" where accepted.contains(.xForwardedFor): forwardedFor.append(value)
            case "x-forwarded-proto" where accepted.contains(.xForwardedProto): proto = Self.last(value)
            case "x-forwarded-host" where accepted.contains(.xForwardedHost): host = Self.last(value)
            case "x-forwarded-port" where accepted.contains(.xForwardedPort): port = Self.last(value)
            case "x-forwarded-prefix" where accepted.contains(.xForwardedPrefix): prefix = Self.last(value)
            default: continue
            }
        }
        var hops: [String]
        if !forwarded.isEmpty {
            let elements = forwarded.flatMap { Self.parseForwarded($0) }
            hops = elements.compactMap { $0["for"] }
            proto = elements.last { $0["proto"] != nil }?["proto"]
            host = elements.last { $0["host"] != nil }?["host"]
        } else {
            hops = forwardedFor.flatMap { $0.split(separator: ",").map { String($0.trimmingSpaces) } }
        }
        if let client = Self.client(hops, trusted: trusted) { self.client = client }
        if let proto = proto?.lowercased(), proto == "http" || proto == "https" { self.scheme = proto }
        if let host = host.flatMap(Self.validHost) { self.host = host }
        if let port, let number = Int(port), (1...65535).contains(number),
            let host = self.host ?? headers.first(name: "host").flatMap(Self.validHost)
        {
            let name =
                host.hasPrefix("[")
                ? String(host[...(host.firstIndex(of: "]") ?? host.startIndex)]) : String(host.split(separator: ":").first ?? "")
            let defaultPort = self.scheme == "https" ? 443 : 80
            self.host = number == defaultPort ? name : "\(name):\(number)"
        }
        if let prefix {
            var path = Substring(prefix)
            while path.hasSuffix("/") { path.removeLast() }
            if path.hasPrefix("/"), !path.hasPrefix("//"), path.allSatisfy(Self.isPathCharacter) { self.prefix = String(path) }
        }
    }

    /// The rightmost untrusted address of `hops`, or the leftmost if all are trusted. Nil if
    /// that hop is not an address (`unknown`, an obfuscated `_name`).
    private static func client(_ hops: [String], trusted: TrustedAddresses) -> SocketAddress? {
        guard !hops.isEmpty else { return nil }
        var chosen = hops[0]
        for hop in hops.reversed() {
            let ip = self.ipOfNode(hop)
            if let ip, trusted.contains(ip: ip) { continue }
            chosen = hop
            break
        }
        return self.ipOfNode(chosen).flatMap { try? SocketAddress(ipAddress: $0, port: 0) }
    }

    /// The address of a node: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`, `2001:db8::1`.
    private static func ipOfNode(_ node: String) -> String? {
        var text = Substring(node)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            text = text[text.index(after: text.startIndex)..<close]
        } else if text.filter({ $0 == ":" }).count == 1 {
            text = text[..<text.firstIndex(of: ":")!]
        }
        let ip = String(text)
        return TrustedAddresses.isAddress(ip) ? ip : nil
    }

    /// The elements of a `Forwarded` header, each its parameters by lowercased name, values unquoted.
    static func parseForwarded(_ value: String) -> [[String: String]] {
        var elements: [[String: String]] = []
        var element: [String: String] = [:]
        var name = ""
        var current = ""
        var inName = true
        var quoted = false
        var escaped = false
        func endPair() {
            let key = name.trimmingCharacters(in: .whitespaces).lowercased()
            if !key.isEmpty { element[key] = current.trimmingCharacters(in: .whitespaces) }
            name = ""
            current = ""
            inName = true
        }
        for character in value {
            if quoted {
                if escaped {
                    current.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    quoted = false
                } else {
                    current.append(character)
                }
                continue
            }
            switch character {
            case "\"" where !inName: quoted = true
            case "=" where inName: inName = false
            case ";": endPair()
            case ",":
                endPair()
                if !element.isEmpty { elements.append(element) }
                element = [:]
            default:
                if inName { name.append(character) } else { current.append(character) }
            }
        }
        endPair()
        if !element.isEmpty { elements.append(element) }
        return elements
    }

    /// The last of a comma-separated list of values.
    private static func last(_ value: String) -> String {
        String(value.split(separator: ",").last.map { $0.trimmingSpaces } ?? "")
    }

    /// `host` or `host:port` if it holds only the characters a host may (so that a URL built
    /// from it cannot be made to point elsewhere); nil otherwise.
    static func validHost(_ host: String) -> String? {
        let host = String(Substring(host).trimmingSpaces)
        guard !host.isEmpty, host.utf8.count <= 255 else { return nil }
        let allowed = host.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".", "-", ":", "[", "]", "_": true
            default: false
            }
        }
        return allowed ? host : nil
    }

    private static func isPathCharacter(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue else { return false }
        return ascii > 0x20 && ascii < 0x7F && character != "?" && character != "#" && character != "\\" && character != "\""
    }
}
