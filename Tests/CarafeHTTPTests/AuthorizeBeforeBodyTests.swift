import Carafe
import Foundation
import Testing

@testable import CarafeHTTP

/// `authorize:` and `authorize(_:)` over a real socket: a request refused on its head is
/// answered before its body is read (the client sends only the head and waits), and the
/// connection then follows the core's early-response rules.
@Suite struct AuthorizeBeforeBodyTests {
    static let megabyte = 1 << 20

    /// An app whose `/upload` takes a 1 MiB body only with `X-Token: good`.
    static func app(_ handled: Box<Int>) -> App {
        let app = App()
        app.maxBodySize = 2 * Self.megabyte
        app.post(
            "/upload",
            authorize: { req in
                req.headers.first(name: "x-token") == "good"
                    ? nil : Response(status: .unauthorized, text: "an X-Token is needed to upload\n")
            }
        ) { req in
            handled.update { $0 += 1 }
            return "got \(req.body.readableBytes) bytes"
        }
        app.get("/") { _ in "home" }
        return app
    }

    @Test func aRefusedUploadIsAnsweredBeforeItsBodyIsSent() async throws {
        let handled = Box(0)
        try await withTestServer(responder: Self.app(handled)) { server in
            // The head of a 1 MiB upload, and nothing more: the answer must come without the body.
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/upload", headers: ["Content-Length: \(Self.megabyte)"]))
            let refused = try await connection.readResponse()
            #expect(refused.status == 401)
            #expect(refused.bodyText == "an X-Token is needed to upload\n")
            // 1 MiB is more than the server reads to drop (`--max-discarded-body`, 64 KiB): it closes.
            #expect(refused.header("connection") == "close")
            #expect(try await connection.waitForClose(timeout: 5))

            // With `Expect: 100-continue` the refusal comes instead of the 100.
            let expecting = try await server.connect()
            try await expecting.send(rawRequest("POST", "/upload", headers: ["Content-Length: \(Self.megabyte)", "Expect: 100-continue"]))
            #expect(try await expecting.readResponse().status == 401)
            #expect(try await expecting.waitForClose(timeout: 5))

            // Twenty stalled uploads (the finding: bodies were collected before any hook could refuse).
            var stalled: [RawHTTPConnection] = []
            for _ in 0..<20 {
                let connection = try await server.connect()
                try await connection.send(
                    rawRequest("POST", "/upload", headers: ["Content-Length: \(Self.megabyte)"]) + String(repeating: "x", count: 1000)
                )
                stalled.append(connection)
            }
            for connection in stalled { #expect(try await connection.readResponse().status == 401) }
            #expect(handled.value == 0)

            // The right token: the server asks for the body, reads it, and the handler runs.
            let allowed = try await server.connect()
            try await allowed.send(
                rawRequest("POST", "/upload", headers: ["Content-Length: \(Self.megabyte)", "Expect: 100-continue", "X-Token: good"])
            )
            #expect(try await allowed.readResponse().status == 100)
            try await allowed.send([UInt8](repeating: 0x61, count: Self.megabyte))
            let ok = try await allowed.readResponse()
            #expect(ok.status == 200)
            #expect(ok.bodyText == "got \(Self.megabyte) bytes")
            #expect(handled.value == 1)
        }
    }

    @Test func aSmallRefusedBodyOnItsWayIsDroppedAndTheConnectionKeptAlive() async throws {
        let handled = Box(0)
        try await withTestServer(responder: Self.app(handled)) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/upload", body: String(repeating: "x", count: 1000)))
            let refused = try await connection.readResponse()
            #expect(refused.status == 401)
            #expect(refused.header("connection") != "close")
            try await connection.send(rawRequest("GET", "/"))
            #expect(try await connection.readResponse().bodyText == "home")
            #expect(handled.value == 0)
        }
    }

    @Test func blueprintHooksRunOutermostFirstThenTheRoutesBeforeTheBodyAndTheBeforeHooks() async throws {
        let calls = Box<[String]>([])
        let app = App()
        app.maxBodySize = 8
        app.authorize { _ in
            calls.update { $0.append("app") }
            return nil
        }
        let admin = Blueprint("admin", prefix: "/admin")
        admin.authorize { req in
            calls.update { $0.append("admin") }
            if req.headers.first(name: "x-user") == nil { throw HTTPError(.unauthorized, "log in first") }
            return nil
        }
        admin.before { _ in
            calls.update { $0.append("before") }
            return nil
        }
        admin.put(
            "/page",
            authorize: { req in
                calls.update { $0.append("route") }
                return req.headers.first(name: "x-user") == "ann" ? nil : Response(status: .forbidden, text: "not yours\n")
            }
        ) { _ in
            calls.update { $0.append("handler") }
            return "saved"
        }
        app.register(admin)
        try await withTestServer(responder: app) { server in
            // Refused before the body: a body over the 8-byte limit gets the 401, not a 413.
            let anonymous = try await curl([
                "-s", "-X", "PUT", "--data-binary", "0123456789", "-w", " %{http_code}", server.baseURL + "/admin/page",
            ])
            #expect(anonymous.output.hasSuffix("log in first\n 401"))
            #expect(calls.value == ["app", "admin"])
            calls.value = []
            let other = try await curl([
                "-s", "-X", "PUT", "-H", "X-User: bob", "--data-binary", "0123456789", "-w", " %{http_code}",
                server.baseURL + "/admin/page",
            ])
            #expect(other.output == "not yours\n 403")
            #expect(calls.value == ["app", "admin", "route"])
            calls.value = []
            // Allowed: then the body is read (and here is too large), and only then the before-hooks.
            let large = try await curl([
                "-s", "-X", "PUT", "-H", "X-User: ann", "--data-binary", "0123456789", "-w", " %{http_code}",
                server.baseURL + "/admin/page",
            ])
            #expect(large.output.hasSuffix(" 413"))
            #expect(calls.value == ["app", "admin", "route"])
            calls.value = []
            let ok = try await curl([
                "-s", "-X", "PUT", "-H", "X-User: ann", "--data-binary", "0123", "-w", " %{http_code}", server.baseURL + "/admin/page",
            ])
            #expect(ok.output == "saved 200")
            #expect(calls.value == ["app", "admin", "route", "before", "handler"])
        }
    }
}
