import CarafeTesting
import Testing

@testable import CarafeCore

/// `App.forwardedAllowIPs` through the test client: which peers' forwarded headers are believed.
@Suite struct ForwardedHeadersTests {
    private func app(trusting trusted: String = "127.0.0.1,::1", headers: TrustedForwardedHeaders = .default) throws -> App {
        let app = App()
        app.forwardedAllowIPs = try TrustedAddresses(parsing: trusted)
        app.forwardedHeaders = headers
        app.get("/users/:id", name: "user") { _ in "" }
        app.get("/who") { req in
            "\(req.remoteAddress?.ipAddress ?? "-") \(req.scheme) \(req.host ?? "-") \(req.scriptRoot.isEmpty ? "-" : req.scriptRoot) \(try req.url(for: "user", ["id": "7"], external: true))"
        }
        return app
    }

    private func client(_ app: App, from ip: String) throws -> TestClient {
        var client = app.test
        client.remoteAddress = try SocketAddress(ipAddress: ip, port: 5000)
        return client
    }

    @Test func aTrustedProxysHeadersSetClientSchemeHostAndPrefix() async throws {
        let client = try self.client(try self.app(headers: [.default, .xForwardedPrefix]), from: "127.0.0.1")
        let headers: HTTPHeaders = [
            "host": "internal:8000", "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https",
            "x-forwarded-host": "example.com", "x-forwarded-prefix": "/shop/",
        ]
        #expect(await client.get("/who", headers: headers).text == "203.0.113.9 https example.com /shop https://example.com/shop/users/7")
        // X-Forwarded-Port: kept unless it is the scheme's default.
        let withPort: HTTPHeaders = [
            "host": "a", "x-forwarded-for": "203.0.113.9", "x-forwarded-host": "example.com", "x-forwarded-port": "8443",
            "x-forwarded-proto": "https",
        ]
        #expect(await client.get("/who", headers: withPort).text == "203.0.113.9 https example.com:8443 - https://example.com:8443/users/7")
    }

    @Test func anUntrustedPeersHeadersAreIgnored() async throws {
        let client = try self.client(try self.app(), from: "198.51.100.1")
        let headers: HTTPHeaders = [
            "host": "site.test", "x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "https",
            "x-forwarded-host": "evil.example", "x-forwarded-prefix": "/x", "forwarded": "for=1.2.3.4;proto=https",
        ]
        #expect(await client.get("/who", headers: headers).text == "198.51.100.1 http site.test - http://site.test/users/7")
    }

    @Test func theClientIsTheRightmostUntrustedHop() async throws {
        let app = try self.app(trusting: "127.0.0.1,10.0.0.0/8")
        let client = try self.client(app, from: "127.0.0.1")
        // A client made up 1.2.3.4; the edge proxy (10.0.0.5) appended the client's real address.
        let chain: HTTPHeaders = ["host": "h", "x-forwarded-for": "1.2.3.4, 192.0.2.7, 10.0.0.5"]
        #expect(await client.get("/who", headers: chain).text.hasPrefix("192.0.2.7 "))
        // Several X-Forwarded-For fields count as one list.
        let split: HTTPHeaders = ["host": "h", "x-forwarded-for": "1.2.3.4", "x-forwarded-for": "192.0.2.8, 10.1.1.1"]
        #expect(await client.get("/who", headers: split).text.hasPrefix("192.0.2.8 "))
        // Nonsense is no address: the peer stays the client.
        let junk: HTTPHeaders = ["host": "h", "x-forwarded-for": "not-an-ip"]
        #expect(await client.get("/who", headers: junk).text.hasPrefix("127.0.0.1 "))
    }

    @Test func rfc7239Forwarded() async throws {
        let client = try self.client(try self.app(headers: [.default, .forwarded]), from: "::1")
        let headers: HTTPHeaders = [
            "host": "h", "forwarded": #"for="[2001:db8:cafe::17]:4711";proto=https;host=example.org, for=127.0.0.1"#,
        ]
        #expect(await client.get("/who", headers: headers).text == "2001:db8:cafe::17 https example.org - https://example.org/users/7")
        let v4: HTTPHeaders = ["host": "h", "forwarded": "For=\"192.0.2.60:8080\";by=203.0.113.43"]
        #expect(await client.get("/who", headers: v4).text.hasPrefix("192.0.2.60 http h "))
    }

    @Test func invalidValuesAreIgnored() async throws {
        let client = try self.client(try self.app(headers: [.default, .xForwardedPrefix]), from: "127.0.0.1")
        let headers: HTTPHeaders = [
            "host": "good.test", "x-forwarded-proto": "javascript", "x-forwarded-host": "evil.example/path",
            "x-forwarded-prefix": "//evil.example", "x-forwarded-port": "99999",
        ]
        #expect(await client.get("/who", headers: headers).text == "127.0.0.1 http good.test - http://good.test/users/7")
    }

    /// By default a trusted proxy's `Forwarded` and `X-Forwarded-Prefix` are not read: a proxy
    /// that does not set them passes the client's own through.
    @Test func forwardedAndPrefixAreOptIn() async throws {
        let client = try self.client(try self.app(), from: "127.0.0.1")
        let spoofed: HTTPHeaders = [
            "host": "site.test", "x-forwarded-for": "203.0.113.9", "x-forwarded-prefix": "/evil",
            "forwarded": "for=1.2.3.4;proto=https;host=evil.example",
        ]
        #expect(await client.get("/who", headers: spoofed).text == "203.0.113.9 http site.test - http://site.test/users/7")
        // Each header on its own: trusting only X-Forwarded-Proto ignores X-Forwarded-For.
        let protoOnly = try self.client(try self.app(headers: .xForwardedProto), from: "127.0.0.1")
        let both: HTTPHeaders = [
            "host": "h", "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https", "x-forwarded-host": "evil.example",
        ]
        #expect(await protoOnly.get("/who", headers: both).text == "127.0.0.1 https h - https://h/users/7")
        let none = try self.client(try self.app(headers: .none), from: "127.0.0.1")
        #expect(await none.get("/who", headers: both).text == "127.0.0.1 http h - http://h/users/7")
    }

    @Test func theHeaderListParsesAndNamesWhatIsWrong() throws {
        #expect(try TrustedForwardedHeaders(parsing: "X-Forwarded-For, forwarded") == [.xForwardedFor, .forwarded])
        #expect(try TrustedForwardedHeaders(parsing: "none") == .none)
        #expect(try TrustedForwardedHeaders(parsing: "") == .none)
        #expect(TrustedForwardedHeaders.default.description == "x-forwarded-for,x-forwarded-proto,x-forwarded-host,x-forwarded-port")
        #expect(throws: TrustedForwardedHeadersError.self) { try TrustedForwardedHeaders(parsing: "x-real-ip") }
        do {
            _ = try TrustedForwardedHeaders(parsing: "x-forwarded-for,x-real-ip")
        } catch {
            #expect("\(error)".contains("'x-real-ip'") && "\(error)".contains("x-forwarded-prefix"))
        }
    }

    @Test func everyoneAndNobody() async throws {
        let anyone = try self.client(try self.app(trusting: "*"), from: "198.51.100.1")
        #expect(await anyone.get("/who", headers: ["host": "h", "x-forwarded-for": "192.0.2.1"]).text.hasPrefix("192.0.2.1 "))
        let nobody = try self.client(try self.app(trusting: ""), from: "127.0.0.1")
        #expect(await nobody.get("/who", headers: ["host": "h", "x-forwarded-for": "192.0.2.1"]).text.hasPrefix("127.0.0.1 "))
    }

    /// Found by the TrustedAddresses fuzz target: an entry of "/" trapped (index out of range).
    @Test(arguments: ["/", "/8", "10.0.0.0/", "::1,/", " / "])
    func anEntryWithoutAnAddressIsAnErrorNotATrap(text: String) {
        #expect(throws: TrustedAddressesError.self) { try TrustedAddresses(parsing: text) }
    }

    @Test func trustedAddressesParseNetworksAndMappedAddresses() throws {
        let trusted = try TrustedAddresses(parsing: " 10.0.0.0/8, 192.168.1.1 ,fd00::/8")
        #expect(trusted.contains(ip: "10.200.3.4"))
        #expect(!trusted.contains(ip: "11.0.0.1"))
        #expect(trusted.contains(ip: "192.168.1.1"))
        #expect(!trusted.contains(ip: "192.168.1.2"))
        #expect(trusted.contains(ip: "fd12::1"))
        #expect(trusted.contains(ip: "::ffff:10.1.1.1"))
        #expect(trusted.contains(try SocketAddress(ipAddress: "::ffff:10.1.1.1", port: 1)))
        #expect(trusted.contains(try SocketAddress(unixDomainSocketPath: "/tmp/x.sock")))
        #expect(!trusted.contains(nil))
        #expect(trusted.description == "10.0.0.0/8,192.168.1.1,fd00::/8")
        #expect(throws: TrustedAddressesError.self) { try TrustedAddresses(parsing: "10.0.0.0/33") }
        #expect(throws: TrustedAddressesError.self) { try TrustedAddresses(parsing: "localhost") }
    }
}
