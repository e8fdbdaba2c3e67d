import NIOCore

/// The header a TCP load balancer (nginx's `stream` module with `proxy_protocol on`, HAProxy,
/// a cloud balancer) sends first on every connection it opens to the server: the client's
/// address and the address the client connected to. Version 1 is a text line, version 2 a
/// binary block; both are described in HAProxy's `proxy-protocol.txt`.
public struct ProxyProtocolHeader: Sendable, Equatable {
    /// The client's address, or nil when the balancer did not say (v1 `UNKNOWN`, the v2 `LOCAL`
    /// command of a health check, an address family other than TCP over IPv4 or IPv6): the
    /// connection then counts as coming from the balancer itself.
    public var source: SocketAddress?
    /// The address the client connected to, when given.
    public var destination: SocketAddress?
    /// 1 or 2.
    public var version: Int

    /// The longest version-1 header, `\r\n` included.
    static let maxVersion1Length = 107
    /// The 12 bytes a version-2 header starts with.
    static let version2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// What parsing the first bytes of a connection found.
    public enum ParseResult: Sendable, Equatable {
        /// A header, which took the first `length` bytes.
        case header(ProxyProtocolHeader, length: Int)
        /// Nothing wrong so far, but the header is not complete yet.
        case incomplete
    }

    /// Parses a header at the start of `bytes`. Throws, saying what is wrong, for anything that
    /// is not a well-formed version 1 or 2 header (a client that speaks HTTP at once included).
    public static func parse(_ bytes: ByteBufferView) throws(ProxyProtocolError) -> ParseResult {
        let start = bytes.startIndex
        let v1Prefix = Array("PROXY ".utf8)
        // Compare what has arrived with the start of each version's signature.
        let available = bytes.count
        if zip(bytes.prefix(v1Prefix.count), v1Prefix).allSatisfy(==) {
            if available < v1Prefix.count { return .incomplete }
            return try self.parseVersion1(bytes)
        }
        if zip(bytes.prefix(self.version2Signature.count), self.version2Signature).allSatisfy(==) {
            if available < 16 { return .incomplete }
            return try self.parseVersion2(bytes)
        }
        let shown = String(decoding: bytes[start..<bytes.index(start, offsetBy: min(available, 16))], as: UTF8.self)
        throw ProxyProtocolError("the connection does not start with a PROXY protocol header (it starts with \(shown.debugDescription))")
    }

    private static func parseVersion1(_ bytes: ByteBufferView) throws(ProxyProtocolError) -> ParseResult {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
            if bytes.count >= self.maxVersion1Length {
                throw ProxyProtocolError("the version 1 header is longer than \(self.maxVersion1Length) bytes")
            }
            return .incomplete
        }
        let length = bytes.distance(from: bytes.startIndex, to: newline) + 1
        guard length <= self.maxVersion1Length else {
            throw ProxyProtocolError("the version 1 header is longer than \(self.maxVersion1Length) bytes")
        }
        guard newline > bytes.startIndex, bytes[bytes.index(before: newline)] == UInt8(ascii: "\r") else {
            throw ProxyProtocolError("the version 1 header does not end with CRLF")
        }
        let line = String(decoding: bytes[bytes.startIndex..<bytes.index(newline, offsetBy: -1)], as: UTF8.self)
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        if fields.count >= 2, fields[1] == "UNKNOWN" {
            return .header(ProxyProtocolHeader(source: nil, destination: nil, version: 1), length: length)
        }
        guard fields.count == 6 else {
            throw ProxyProtocolError("the version 1 header \(line.debugDescription) does not have 6 fields")
        }
        let family = fields[1]
        guard family == "TCP4" || family == "TCP6" else {
            throw ProxyProtocolError("unknown protocol '\(family)' in the version 1 header (TCP4, TCP6 or UNKNOWN)")
        }
        func port(_ text: Substring) throws(ProxyProtocolError) -> Int {
            guard let port = Int(text), (0...65535).contains(port), text.first != "+", !(text.count > 1 && text.first == "0") else {
                throw ProxyProtocolError("'\(text)' is not a port in the version 1 header")
            }
            return port
        }
        func address(_ text: Substring, port: Int) throws(ProxyProtocolError) -> SocketAddress {
            let isV6 = text.contains(":")
            guard isV6 == (family == "TCP6"), let address = try? SocketAddress(ipAddress: String(text), port: port) else {
                throw ProxyProtocolError("'\(text)' is not an \(family == "TCP4" ? "IPv4" : "IPv6") address in the version 1 header")
            }
            return address
        }
        let source = try address(fields[2], port: try port(fields[4]))
        let destination = try address(fields[3], port: try port(fields[5]))
        return .header(ProxyProtocolHeader(source: source, destination: destination, version: 1), length: length)
    }

    private static func parseVersion2(_ bytes: ByteBufferView) throws(ProxyProtocolError) -> ParseResult {
        func byte(_ offset: Int) -> UInt8 { bytes[bytes.index(bytes.startIndex, offsetBy: offset)] }
        let versionAndCommand = byte(12)
        guard versionAndCommand >> 4 == 2 else {
            throw ProxyProtocolError("version \(versionAndCommand >> 4) in a version 2 header")
        }
        let command = versionAndCommand & 0x0F
        guard command <= 1 else { throw ProxyProtocolError("unknown command \(command) in the version 2 header (0 LOCAL, 1 PROXY)") }
        let familyAndProtocol = byte(13)
        let payloadLength = Int(byte(14)) << 8 | Int(byte(15))
        let length = 16 + payloadLength
        guard bytes.count >= length else { return .incomplete }
        // LOCAL (a balancer's own health check) and families other than TCP over IP: the
        // connection is the balancer's; the address block and any TLVs are skipped.
        guard command == 1 else { return .header(ProxyProtocolHeader(source: nil, destination: nil, version: 2), length: length) }
        func port(_ offset: Int) -> Int { Int(byte(offset)) << 8 | Int(byte(offset + 1)) }
        switch familyAndProtocol {
        case 0x11:  // TCP over IPv4: 4 + 4 address bytes, 2 + 2 port bytes, then TLVs
            guard payloadLength >= 12 else { throw ProxyProtocolError("an IPv4 address block of \(payloadLength) bytes (at least 12)") }
            let source = self.ipv4((0..<4).map { byte(16 + $0) }, port: port(24))
            let destination = self.ipv4((0..<4).map { byte(20 + $0) }, port: port(26))
            return .header(ProxyProtocolHeader(source: source, destination: destination, version: 2), length: length)
        case 0x21:  // TCP over IPv6: 16 + 16 address bytes, 2 + 2 port bytes, then TLVs
            guard payloadLength >= 36 else { throw ProxyProtocolError("an IPv6 address block of \(payloadLength) bytes (at least 36)") }
            let source = self.ipv6((0..<16).map { byte(16 + $0) }, port: port(48))
            let destination = self.ipv6((0..<16).map { byte(32 + $0) }, port: port(50))
            return .header(ProxyProtocolHeader(source: source, destination: destination, version: 2), length: length)
        default:  // UNSPEC, UDP, Unix: no client address to use
            return .header(ProxyProtocolHeader(source: nil, destination: nil, version: 2), length: length)
        }
    }

    private static func ipv4(_ bytes: [UInt8], port: Int) -> SocketAddress? {
        try? SocketAddress(ipAddress: bytes.map(String.init).joined(separator: "."), port: port)
    }

    private static func ipv6(_ bytes: [UInt8], port: Int) -> SocketAddress? {
        let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return try? SocketAddress(ipAddress: groups.joined(separator: ":"), port: port)
    }
}

/// Why the start of a connection is not a valid PROXY protocol header.
public struct ProxyProtocolError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}
