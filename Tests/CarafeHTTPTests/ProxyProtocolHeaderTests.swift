import CarafeHTTP
import NIOCore
import Testing

/// Parsing PROXY protocol headers as they arrive, byte by byte included.
@Suite struct ProxyProtocolHeaderTests {
    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    private func parse(_ bytes: [UInt8]) throws -> ProxyProtocolHeader.ParseResult {
        try ProxyProtocolHeader.parse(ByteBuffer(bytes: bytes).readableBytesView)
    }

    @Test func version1IsIncompleteUntilItsLineEnds() throws {
        let line = Array("PROXY TCP6 2001:db8::1 ::1 56324 443\r\nGET".utf8)
        for end in 0..<(line.count - 4) {
            #expect(try self.parse(Array(line[..<end])) == .incomplete, "\(end) bytes")
        }
        guard case .header(let header, let length) = try self.parse(line) else {
            Issue.record("no header")
            return
        }
        #expect(length == line.count - 3)
        #expect(header.source == (try SocketAddress(ipAddress: "2001:db8::1", port: 56324)))
        #expect(header.destination?.port == 443)
    }

    @Test func version2IsIncompleteUntilItsBlockEnds() throws {
        let header = Self.signature + [0x21, 0x11, 0x00, 12, 192, 0, 2, 1, 127, 0, 0, 1, 0x00, 0x50, 0x01, 0xBB]
        for end in 0..<header.count {
            #expect(try self.parse(Array(header[..<end])) == .incomplete, "\(end) bytes")
        }
        guard case .header(let parsed, 28) = try self.parse(header + [0x47]) else {
            Issue.record("no header")
            return
        }
        #expect(parsed.source == (try SocketAddress(ipAddress: "192.0.2.1", port: 80)))
        #expect(parsed.version == 2)
    }

    @Test func errorsSayWhatIsWrong() {
        func reason(_ bytes: [UInt8]) -> String {
            do {
                _ = try self.parse(bytes)
                return "parsed"
            } catch {
                return "\(error)"
            }
        }
        #expect(reason(Array("GET / HTTP/1.1\r\n".utf8)).contains("does not start with a PROXY protocol header"))
        #expect(reason(Array("PROXY TCP4 1.2.3.4 ::1 1 2\r\n".utf8)).contains("is not an IPv4 address"))
        #expect(reason(Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n".utf8)).contains("is not a port"))
        #expect(reason(Array("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n".utf8)).contains("unknown protocol"))
        #expect(reason(Self.signature + [0x22, 0x11, 0, 0]).contains("unknown command"))
    }
}
