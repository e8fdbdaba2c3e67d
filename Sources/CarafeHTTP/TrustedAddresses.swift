import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A set of peers a server believes: addresses and networks written as Gunicorn writes
/// `--forwarded-allow-ips` and `--proxy-allow-from`: `127.0.0.1,::1`, `10.0.0.0/8`,
/// `fd00::/8`, or `*` for every peer.
///
/// Peers on a Unix domain socket are always trusted (only processes on this machine with
/// access to the socket file can connect), as in Gunicorn. An IPv4 address seen as an
/// IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) matches as the IPv4 address it is.
public struct TrustedAddresses: Sendable, Hashable, CustomStringConvertible {
    /// One network: the address's bytes (4 or 16) and how many leading bits must match.
    struct Network: Sendable, Hashable {
        var bytes: [UInt8]
        var prefixLength: Int
    }

    /// True for `*`: every peer is trusted.
    public let trustsEveryone: Bool
    let networks: [Network]
    public let description: String

    /// `127.0.0.1,::1`: Gunicorn's default, the proxy on this machine.
    public static let localhost = try! TrustedAddresses(parsing: "127.0.0.1,::1")
    /// Nobody (over TCP): forwarded headers are ignored from every TCP peer.
    public static let nobody = try! TrustedAddresses(parsing: "")

    /// Parses a comma-separated list of addresses and networks (`10.0.0.0/8`), or `*`.
    /// Spaces around entries are ignored; an empty list trusts no TCP peer.
    public init(parsing text: String) throws(TrustedAddressesError) {
        var networks: [Network] = []
        var everyone = false
        for entry in text.split(separator: ",").map({ $0.trimmingSpaces }) where !entry.isEmpty {
            if entry == "*" {
                everyone = true
                continue
            }
            // Empty parts kept: "/" or "/8" is an entry without an address, not an empty list.
            let parts = entry.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let bytes = Self.addressBytes(String(parts[0])) else {
                throw TrustedAddressesError(entry: String(entry), reason: "'\(parts[0])' is not an IPv4 or IPv6 address")
            }
            var length = bytes.count * 8
            if parts.count == 2 {
                guard let given = Int(parts[1]), (0...length).contains(given) else {
                    throw TrustedAddressesError(entry: String(entry), reason: "the prefix length must be 0...\(length)")
                }
                length = given
            }
            networks.append(Network(bytes: bytes, prefixLength: length))
        }
        self.networks = networks
        self.trustsEveryone = everyone
        self.description =
            everyone
            ? "*"
            : networks.map { network in
                let text = Self.text(network.bytes)
                return network.prefixLength == network.bytes.count * 8 ? text : "\(text)/\(network.prefixLength)"
            }.joined(separator: ",")
    }

    /// Whether `address` is trusted: a Unix socket peer always is; nil (no socket) never is.
    public func contains(_ address: SocketAddress?) -> Bool {
        switch address {
        case .unixDomainSocket: return true
        case .none: return false
        case .some(let address):
            if self.trustsEveryone { return true }
            if self.networks.isEmpty { return false }
            // Compared in place: this runs for every request, and must not allocate.
            switch address {
            case .v4(let v4):
                return withUnsafeBytes(of: v4.address.sin_addr) { self.contains(bytes: $0) }
            case .v6(let v6):
                return withUnsafeBytes(of: v6.address.sin6_addr) { raw in
                    let mapped = raw[0..<10].allSatisfy { $0 == 0 } && raw[10] == 0xFF && raw[11] == 0xFF
                    return self.contains(bytes: mapped ? UnsafeRawBufferPointer(rebasing: raw[12...]) : raw)
                }
            case .unixDomainSocket:
                return true
            }
        }
    }

    /// Whether the address written as `ip` (`10.1.2.3`, `::1`) is trusted.
    public func contains(ip: String) -> Bool {
        if self.trustsEveryone { return true }
        guard let bytes = Self.addressBytes(ip) else { return false }
        return bytes.withUnsafeBytes { self.contains(bytes: $0) }
    }

    private func contains(bytes: UnsafeRawBufferPointer) -> Bool {
        self.networks.contains { network in
            guard network.bytes.count == bytes.count else { return false }
            var remaining = network.prefixLength
            var index = 0
            while remaining > 0 {
                let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
                if bytes[index] & mask != network.bytes[index] & mask { return false }
                remaining -= 8
                index += 1
            }
            return true
        }
    }

    /// Whether `text` is an IPv4 or IPv6 address.
    public static func isAddress(_ text: String) -> Bool {
        self.addressBytes(text) != nil
    }

    /// The 4 or 16 bytes of an IP address in text; an IPv4-mapped IPv6 address gives its 4
    /// IPv4 bytes. Nil if it is not an address.
    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        return self.unmapped(withUnsafeBytes(of: &v6) { Array($0) })
    }

    /// The IPv4 bytes of an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`); other addresses as they are.
    private static func unmapped(_ bytes: [UInt8]) -> [UInt8] {
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return Array(bytes[12...])
        }
        return bytes
    }

    private static func text(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var bytes = bytes
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        return bytes.withUnsafeMutableBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        }
    }
}

/// A `--forwarded-allow-ips` or `--proxy-allow-from` entry that is not an address or network.
public struct TrustedAddressesError: Error, CustomStringConvertible {
    public let entry: String
    public let reason: String
    public var description: String { "invalid trusted address '\(self.entry)': \(self.reason)" }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return text
    }
}
