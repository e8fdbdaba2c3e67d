import CarafeTesting
import Testing

@testable import CarafeCore
@testable import CarafeSessions

/// CSRF protection: forms carry the session's token; requests without it never reach a handler.
@Suite struct CSRFTests {
    /// An app with a form page that hands out the token, a protected POST, an exempt blueprint
    /// and an exempt route; `recorder` notes the handlers that ran.
    static func app(_ recorder: TestRecorder) throws -> App {
        let app = App()
        try app.sessions(secretKey: secretKey)
        let csrf = app.csrfProtection()
        app.get("/form") { req in req.csrfToken }
        app.post("/posts") { req in
            recorder.record("posts")
            return "posted"
        }
        app.delete("/posts/1") { _ in
            recorder.record("delete")
            return "deleted"
        }
        app.post("/hook", name: "hook") { _ in
            recorder.record("hook")
            return "hooked"
        }
        let api = Blueprint("api", prefix: "/api")
        let v1 = Blueprint("v1", prefix: "/v1")
        v1.post("/posts") { _ in
            recorder.record("api")
            return "api posted"
        }
        api.register(v1)
        app.register(api)
        csrf.exempt(api).exempt(route: "hook")
        return app
    }

    /// A session cookie and its CSRF token, as a browser has them after loading the form.
    static func formSession(_ app: App) async throws -> (cookie: String, token: String) {
        let form = await app.test.get("/form")
        return (try #require(form.cookieValue()), form.text)
    }

    @Test func aFormWithTheSessionsTokenPasses() async throws {
        let recorder = TestRecorder()
        let app = try Self.app(recorder)
        let (cookie, token) = try await Self.formSession(app)
        #expect(token.count == 43)  // 32 random bytes, base64url
        let response = await app.test.post("/posts", form: ["title": "Hi", "csrf_token": token], headers: sessionCookie(cookie))
        #expect(response.status == .ok)
        #expect(response.text == "posted")
        // The token stays the same for the session.
        #expect(await app.test.get("/form", headers: sessionCookie(cookie)).text == token)
        #expect(recorder.all == ["posts"])
    }

    @Test func aMultipartFormCarriesTheTokenToo() async throws {
        let recorder = TestRecorder()
        let app = try Self.app(recorder)
        let (cookie, token) = try await Self.formSession(app)
        let file = MultipartTestPart.file("avatar", filename: "me.png", contentType: "image/png", [UInt8](repeating: 1, count: 600_000))
        let passed = await app.test.post("/posts", multipart: [.field("csrf_token", token), file], headers: sessionCookie(cookie))
        #expect(passed.status == .ok)
        let refused = await app.test.post("/posts", multipart: [.field("csrf_token", "forged"), file], headers: sessionCookie(cookie))
        #expect(refused.status == .badRequest)
        #expect(refused.text.contains(CSRFProtection.failureMessage))
        #expect(recorder.all == ["posts"])
    }

    @Test func installationOrderDoesNotMatter() async throws {
        let app = App()
        let csrf = app.csrfProtection()  // before sessions: the session is read on first use
        try app.sessions(secretKey: secretKey)
        app.get("/form") { req in req.csrfToken }
        app.post("/posts") { _ in "posted" }
        _ = csrf
        let (cookie, token) = try await Self.formSession(app)
        #expect(await app.test.post("/posts", form: ["csrf_token": token], headers: sessionCookie(cookie)).text == "posted")
        #expect(await app.test.post("/posts", form: ["csrf_token": "wrong"], headers: sessionCookie(cookie)).status == .badRequest)
    }

    @Test func theHeaderPassesToo() async throws {
        let recorder = TestRecorder()
        let app = try Self.app(recorder)
        let (cookie, token) = try await Self.formSession(app)
        let headers: HTTPHeaders = ["cookie": "session=\(cookie)", "x-csrf-token": token]
        #expect(await app.test.delete("/posts/1", headers: headers).status == .ok)
        let flaskStyle: HTTPHeaders = ["cookie": "session=\(cookie)", "X-CSRFToken": token]
        #expect(await app.test.post("/posts", "{}", contentType: "application/json", headers: flaskStyle).status == .ok)
        #expect(recorder.all == ["delete", "posts"])
    }

    @Test func noTokenIs400AndTheHandlerDoesNotRun() async throws {
        let recorder = TestRecorder()
        let app = try Self.app(recorder)
        let (cookie, _) = try await Self.formSession(app)
        let response = await app.test.post("/posts", form: ["title": "Hi"], headers: sessionCookie(cookie))
        #expect(response.status == .badRequest)
        #expect(response.text.contains("CSRF token missing or incorrect"))
        #expect(response.text.contains("no csrf_token form field"))
        let empty = await app.test.post("/posts", form: ["csrf_token": ""], headers: sessionCookie(cookie))
        #expect(empty.status == .badRequest)
        #expect(await app.test.delete("/posts/1", headers: sessionCookie(cookie)).status == .badRequest)
        #expect(recorder.all == [])
    }

    @Test func aWrongTokenOrAnotherSessionsTokenIs400() async throws {
        let recorder = TestRecorder()
        let app = try Self.app(recorder)
        let (cookie, token) = try await Self.formSession(app)
        let (otherCookie, otherToken) = try await Self.formSession(app)
        #expect(token != otherToken)
        let wrong = await app.test.post("/posts", form: ["csrf_token": String(token.reversed())], headers: sessionCookie(cookie))
        #expect(wrong.status == .badRequest)
        #expect(wrong.text.contains("CSRF token missing or incorrect: the token does not match"))
        let crossed = await app.test.post("/posts", form: ["csrf_token": otherToken], headers: sessionCookie(cookie))
        #expect(crossed.status == .badRequest)
        let truncated = await app.test.post("/posts", form: ["csrf_token": String(token.dropLast())], headers: sessionCookie(otherCookie))
        #expect(truncated.status == .badRequest)
        // A token but no session (cookies off, or the session expired).
        let noSession = await app.test.post("/posts", form: ["csrf_token": token])
        #expect(noSession.status == .badRequest)
        #expect(noSession.text.contains("the session has no CSRF token"))
        #expect(recorder.all == [])
    }

    @Test func exemptBlueprintsAndRoutesPassWithoutAToken() async throws {
        let recorder = TestRecorder()
        let app = try Self.app(recorder)
        #expect(await app.test.post("/api/v1/posts", "{}", contentType: "application/json").text == "api posted")
        #expect(await app.test.post("/hook", "x").text == "hooked")
        #expect(await app.test.post("/posts", "x").status == .badRequest)
        #expect(recorder.all == ["api", "hook"])
    }

    @Test func safeMethodsAndUnknownRoutesAreNotChecked() async throws {
        let recorder = TestRecorder()
        let app = try Self.app(recorder)
        #expect(await app.test.get("/form").status == .ok)
        #expect(await app.test.head("/form").status == .ok)
        #expect(await app.test.post("/nowhere", "x").status == .notFound)
        #expect(await app.test.put("/posts", "x").status == .methodNotAllowed)
    }

    @Test func aClientKeepingCookiesPostsWithTheTokenItWasGiven() async throws {
        let recorder = TestRecorder()
        let client = try Self.app(recorder).test.keepingCookies()
        let token = await client.get("/form").text
        #expect(await client.post("/posts", form: ["csrf_token": token]).status == .ok)
        #expect(await client.post("/posts", form: ["csrf_token": "x"]).status == .badRequest)
        #expect(recorder.all == ["posts"])
    }
}
