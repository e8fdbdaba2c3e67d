import CarafeTesting
import Testing

@testable import CarafeCore

@Suite struct CORSTests {
    static func app() throws -> App {
        let app = App()
        try app.cors(
            CORS(
                allowedOrigins: ["https://app.example", "https://*.example.org"],
                allowedHeaders: ["Content-Type"],
                exposedHeaders: ["X-Total"]
            )
        )
        app.get("/items") { _ in "items" }
        app.get("/stream") { _ in Response.stream(contentType: "text/plain") { try await $0.write(ByteBuffer(string: "s")) } }
        app.get("/fail") { _ -> String in throw HTTPError(.conflict, "no") }
        let admin = Blueprint("admin", prefix: "/admin")
        try admin.cors(CORS(allowedOrigins: ["https://admin.example"], allowCredentials: true, maxAge: .seconds(60)))
        admin.get("/users") { _ in "users" }
        app.register(admin)
        return app
    }

    @Test func preflightsAreAnsweredBefore404And405() async throws {
        let app = try Self.app()
        for path in ["/items", "/nowhere", "/items/deeper"] {
            let response = await app.test.options(
                path,
                headers: [
                    "origin": "https://app.example", "access-control-request-method": "PUT",
                    "access-control-request-headers": "content-type",
                ]
            )
            #expect(response.status == .noContent, "\(path)")
            #expect(response.header("access-control-allow-origin") == "https://app.example", "\(path)")
            #expect(response.header("access-control-allow-methods") == "GET, HEAD, POST, PUT, PATCH, DELETE")
            #expect(response.header("access-control-allow-headers") == "Content-Type")
            #expect(response.header("access-control-max-age") == "600")
            #expect(response.header("vary") == "Origin")
        }
        // An origin not allowed: no CORS headers, so the browser refuses; still Vary.
        let other = await app.test.options("/items", headers: ["origin": "https://evil.example", "access-control-request-method": "GET"])
        #expect(other.header("access-control-allow-origin") == nil)
        #expect(other.header("vary") == "Origin")
        // A plain OPTIONS (no preflight) is routing's as before.
        let plain = await app.test.options("/items")
        #expect(plain.header("allow")?.contains("GET") == true, "\(plain.headers)")
        #expect(plain.header("access-control-allow-origin") == nil)
    }

    @Test func headersOnEveryKindOfResponse() async throws {
        let app = try Self.app()
        let origin: HTTPHeaders = ["origin": "https://a.b.example.org"]
        for path in ["/items", "/stream", "/fail", "/nowhere"] {
            let response = await app.test.get(path, headers: origin)
            #expect(response.header("access-control-allow-origin") == "https://a.b.example.org", "\(path)")
            #expect(response.header("access-control-expose-headers") == "X-Total", "\(path)")
            #expect(response.header("vary") == "Origin", "\(path)")
        }
        #expect(await app.test.get("/items", headers: ["origin": "https://example.org"]).header("access-control-allow-origin") == nil)
        #expect(
            await app.test.get("/items", headers: ["origin": "https://x.example.org.evil"]).header("access-control-allow-origin") == nil
        )
        #expect(await app.test.get("/items").header("vary") == "Origin")
    }

    @Test func aBlueprintHasItsOwnPolicy() async throws {
        let app = try Self.app()
        let users = await app.test.get("/admin/users", headers: ["origin": "https://admin.example"])
        #expect(users.header("access-control-allow-origin") == "https://admin.example")
        #expect(users.header("access-control-allow-credentials") == "true")
        #expect(await app.test.get("/admin/users", headers: ["origin": "https://app.example"]).header("access-control-allow-origin") == nil)
        let preflight = await app.test.options(
            "/admin/nope",
            headers: ["origin": "https://admin.example", "access-control-request-method": "DELETE"]
        )
        #expect(preflight.status == .noContent)
        #expect(preflight.header("access-control-max-age") == "60")
    }

    @Test func anyOriginWithCredentialsIsAStartUpError() throws {
        #expect(throws: CORSConfigurationError.self) { try App().cors(CORS(allowedOrigins: ["*"], allowCredentials: true)) }
        let app = App()
        try app.cors(CORS(allowedOrigins: ["*"]))
        app.get("/") { _ in "x" }
        _ = app
    }

    @Test func anyOriginAnswersStarWithoutVary() async throws {
        let app = App()
        try app.cors(CORS(allowedOrigins: ["*"]))
        app.get("/") { _ in "x" }
        let response = await app.test.get("/", headers: ["origin": "https://whoever.example"])
        #expect(response.header("access-control-allow-origin") == "*")
        #expect(response.header("vary") == nil)
    }
}
