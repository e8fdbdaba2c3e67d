import CarafeTesting
import Testing

@testable import CarafeCore

/// `App.allowedHosts`: a request for a host not in the list is 400 before routing, so the
/// host never reaches an external URL.
@Suite struct AllowedHostsTests {
    @Test(arguments: [
        ("example.com", true), ("EXAMPLE.com:8080", true), ("example.com.", true), ("www.example.org", true),
        ("example.org", true), ("deep.sub.example.org", true), ("[::1]:8000", true), ("127.0.0.1:80", true),
        ("evil.example", false), ("example.com.evil.example", false), ("notexample.org", false), ("evil-example.org", false),
        ("[::2]", false), ("", false),
    ])
    func matching(host: String, allowed: Bool) {
        let hosts = AllowedHosts(["example.com", ".example.org", "[::1]", "127.0.0.1"])
        #expect(hosts.allows(host) == allowed, "\(host)")
    }

    @Test func starAllowsAnyHostAndNoHost() throws {
        let any = try AllowedHosts(parsing: "*")
        #expect(any.allows("anything.test") && any.allows(nil))
        #expect(!AllowedHosts(["example.com"]).allows(nil))
    }

    @Test func badListsAreRefused() {
        #expect(throws: AllowedHostsError.self) { try AllowedHosts(parsing: "") }
        #expect(throws: AllowedHostsError.self) { try AllowedHosts(parsing: "example.com,evil/path") }
        #expect(throws: AllowedHostsError.self) { try AllowedHosts(parsing: "..example.com") }
    }

    @Test func anotherHostIs400BeforeAnyHookAndNeverInAURL() async throws {
        let app = App()
        app.allowedHosts = AllowedHosts(["example.com"])
        let hookRan = Box()
        app.before { _ in
            hookRan.value = true
            return nil
        }
        app.get("/users/:id", name: "user") { req in try req.url(for: "user", ["id": "7"], external: true) }
        let good = await app.test.get("/users/7", headers: ["host": "example.com"])
        #expect(good.status == .ok && good.text == "http://example.com/users/7")
        hookRan.value = false
        let evil = await app.test.get("/users/7", headers: ["host": "evil.example"])
        #expect(evil.status == .badRequest)
        #expect(evil.text.contains("'evil.example' is not allowed"), "\(evil.text)")
        #expect(!hookRan.value)
        // A trusted proxy's X-Forwarded-Host is what is checked.
        var proxied = app.test
        proxied.remoteAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 4000)
        let forwarded = await proxied.get("/users/7", headers: ["host": "example.com", "x-forwarded-host": "evil.example"])
        #expect(forwarded.status == .badRequest)
        #expect(await app.test.get("/users/7").status == .badRequest)  // no Host at all
    }
}

final class Box: @unchecked Sendable {
    var value = false
}
