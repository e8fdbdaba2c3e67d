import CarafeTesting
import Foundation
import Testing

@testable import CarafeCore
@testable import CarafeSessions

/// The session cookie is `Secure` when the request came over https (behind a trusted proxy,
/// its `X-Forwarded-Proto`), unless `secure:` says otherwise.
@Suite struct SecureCookieTests {
    private func app(secure: Bool? = nil) throws -> App {
        let app = App()
        try app.sessions(secretKey: secretKey, secure: secure)
        app.get("/login") { req in
            req.session["user_id"] = "1"
            return "ok"
        }
        return app
    }

    private func attributes(_ app: App, https: Bool) async throws -> Set<String> {
        var client = app.test
        client.remoteAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 4000)  // a trusted proxy
        let headers: HTTPHeaders = https ? ["x-forwarded-proto": "https"] : [:]
        let setCookie = try #require(await client.get("/login", headers: headers).setCookie("session"))
        return Set(setCookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) })
    }

    @Test func secureByDefaultOverHTTPSOnly() async throws {
        let app = try self.app()
        #expect(try await self.attributes(app, https: true).contains("Secure"))
        #expect(try await !self.attributes(app, https: false).contains("Secure"))
    }

    @Test func anExplicitSettingWins() async throws {
        #expect(try await self.attributes(try self.app(secure: true), https: false).contains("Secure"))
        #expect(try await !self.attributes(try self.app(secure: false), https: true).contains("Secure"))
    }
}
