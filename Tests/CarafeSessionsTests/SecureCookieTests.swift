import CarafeHTTP
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

    /// The same over a real socket, with curl as the client and as a proxy that terminated
    /// TLS (its `X-Forwarded-Proto`, believed from 127.0.0.1 by default).
    @Test func secureOverASocketWhenTheTrustedProxySaysHTTPS() async throws {
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(bind: [.hostPort(host: "127.0.0.1", port: 0)], eventLoops: 1),
            responder: try self.app(),
            logger: Logger(label: "secure-cookie-test")
        )
        try await server.start()
        let port = server.localAddresses.first?.port ?? 0
        func cookie(_ headers: [String]) throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            process.arguments =
                ["-s", "--max-time", "10", "-D", "-", "-o", "/dev/null"] + headers.flatMap { ["-H", $0] } + [
                    "http://127.0.0.1:\(port)/login"
                ]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return text.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie: session=") }.map(String.init) ?? "(none)"
        }
        let https = try cookie(["X-Forwarded-Proto: https"])
        let plain = try cookie([])
        await server.shutdown()
        #expect(https.contains("; Secure"), "\(https)")
        #expect(https.contains("HttpOnly"))
        #expect(!plain.contains("Secure"), "\(plain)")
        #expect(plain.hasPrefix("set-cookie: session=") || plain.hasPrefix("Set-Cookie: session="), "\(plain)")
    }

    @Test func anExplicitSettingWins() async throws {
        #expect(try await self.attributes(try self.app(secure: true), https: false).contains("Secure"))
        #expect(try await !self.attributes(try self.app(secure: false), https: true).contains("Secure"))
    }
}
