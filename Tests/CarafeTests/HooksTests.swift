import CarafeTesting
import Testing

@testable import CarafeCore

@Suite struct HooksTests {
    /// Registers before, after and teardown hooks on `builder` that note `label` in `log`.
    private func hook(_ builder: some RouteBuilder, _ label: String, _ log: TestRecorder) {
        builder.before { _ in
            log.record("before \(label)")
            return nil
        }
        builder.after { _, response in
            log.record("after \(label)")
            return response
        }
        builder.teardown { _, _ in log.record("teardown \(label)") }
    }

    // MARK: Before

    @Test func aBeforeHookThatAnswersSkipsTheHandlerAndLaterBeforeHooksButNotAfterHooks() async {
        let app = App()
        let log = TestRecorder()
        app.before { req in
            log.record("check")
            return req.headers.contains(name: "x-token") ? nil : Response(status: .unauthorized, text: "Log in first.")
        }
        app.before { _ in
            log.record("second before")
            return nil
        }
        app.after { _, response in
            log.record("after")
            var response = response
            response.headers.add(name: "x-after", value: "1")
            return response
        }
        app.get("/secret") { _ in
            log.record("handler")
            return "secret"
        }

        let denied = await app.test.get("/secret")
        #expect(denied.status == .unauthorized)
        #expect(denied.text == "Log in first.")
        #expect(denied.header("x-after") == "1")
        #expect(log.all == ["check", "after"])

        let allowed = await app.test.get("/secret", headers: ["x-token": "t"])
        #expect(allowed.text == "secret")
        #expect(log.all == ["check", "after", "check", "second before", "handler", "after"])
    }

    @Test func aBeforeHookMayPassValuesToTheHandlerInStorage() async {
        let app = App()
        app.before { req in
            req.storage[UserName.self] = "ada"
            return nil
        }
        app.get("/me") { req in req.storage[UserName.self] ?? "nobody" }

        #expect(await app.test.get("/me").text == "ada")
    }

    @Test func aBeforeHookThatThrowsGoesToTheErrorHandlers() async {
        let app = App()
        app.before { _ in try abort(.forbidden, "Not you.") }
        app.get("/") { _ in "never" }

        let response = await app.test.get("/")
        #expect(response.status == .forbidden)
        #expect(response.text == "403 Forbidden: Not you.\n")
    }

    // MARK: After

    @Test func afterHooksModifyTheResponseIncludingErrorResponses() async {
        let app = App()
        app.after { _, response in
            var response = response
            response.headers.replaceOrAdd(name: "x-frame-options", value: "DENY")
            if response.status == .notFound { response.status = .gone }
            return response
        }
        app.get("/") { _ in "home" }

        let home = await app.test.get("/")
        #expect(home.text == "home")
        #expect(home.header("x-frame-options") == "DENY")

        let missing = await app.test.get("/missing")
        #expect(missing.status == .gone)
        #expect(missing.header("x-frame-options") == "DENY")
    }

    @Test func anAfterHookThatThrowsIsAnsweredAndLaterHooksStillRun() async {
        let app = App()
        let log = TestRecorder()
        app.teardown { _, error in log.record("teardown \(error.map { "\($0)" } ?? "nil")") }
        app.after { _, response in
            log.record("outer after saw \(response.status.code)")
            return response
        }
        app.after { _, _ in try abort(.conflict, "Too late.") }
        app.get("/") { _ in "fine" }

        let response = await app.test.get("/")
        #expect(response.status == .conflict)
        #expect(response.text == "409 Conflict: Too late.\n")
        #expect(log.all == ["outer after saw 409", "teardown 409 Conflict: Too late."])
    }

    // MARK: Teardown

    @Test func teardownRunsEvenWhenTheHandlerThrowsAndReceivesTheError() async {
        let app = App()
        let log = TestRecorder()
        app.teardown { req, error in
            let what = if let boom = error as? Boom { "Boom(\(boom.secret))" } else if let error { "other \(error)" } else { "no error" }
            log.record("\(req.path): \(what)")
        }
        app.get("/ok") { _ in "ok" }
        app.get("/boom") { _ -> String in throw Boom(secret: "s") }

        #expect(await app.test.get("/ok").status == .ok)
        #expect(await app.test.get("/boom").status == .internalServerError)
        #expect(log.all == ["/ok: no error", "/boom: Boom(s)"])
    }

    @Test func teardownReceivesTheErrorEvenWhenAnErrorHandlerAnsweredIt() async {
        let app = App()
        let log = TestRecorder()
        app.errorHandler(Boom.self) { _, _ in "handled" }
        app.teardown { _, error in log.record(error is Boom ? "Boom" : "\(String(describing: error))") }
        app.get("/boom") { _ -> String in throw Boom() }

        #expect(await app.test.get("/boom").text == "handled")
        #expect(log.all == ["Boom"])
    }

    // MARK: Order (Flask's)

    @Test func hooksRunAppFirstOnTheWayInAndInnerFirstOnTheWayOut() async {
        let app = App()
        let log = TestRecorder()
        let outer = Blueprint("outer", prefix: "/outer")
        let inner = Blueprint("inner", prefix: "/inner")
        hook(app, "app 1", log)
        hook(app, "app 2", log)
        hook(outer, "outer", log)
        hook(inner, "inner 1", log)
        hook(inner, "inner 2", log)
        inner.get("/x") { _ in
            log.record("handler")
            return "x"
        }
        outer.register(inner)
        app.register(outer)

        #expect(await app.test.get("/outer/inner/x").text == "x")
        #expect(
            log.all == [
                "before app 1", "before app 2", "before outer", "before inner 1", "before inner 2",
                "handler",
                "after inner 2", "after inner 1", "after outer", "after app 2", "after app 1",
                "teardown inner 2", "teardown inner 1", "teardown outer", "teardown app 2", "teardown app 1",
            ]
        )
    }

    @Test func aBlueprintsHooksApplyOnlyToItsOwnRoutes() async {
        let app = App()
        let log = TestRecorder()
        let admin = Blueprint("admin", prefix: "/admin")
        admin.before { _ in Response(status: .forbidden) }
        hook(admin, "admin", log)
        admin.get("/panel") { _ in "panel" }
        app.register(admin)
        app.get("/public") { _ in "public" }

        #expect(await app.test.get("/admin/panel").status == .forbidden)
        #expect(await app.test.get("/public").text == "public")
        // Nor to a 404 under its prefix: no route, so no blueprint.
        #expect(await app.test.get("/admin/nothing").status == .notFound)
        #expect(log.all == ["after admin", "teardown admin"])
    }
}

private enum UserName: StorageKey { typealias Value = String }
