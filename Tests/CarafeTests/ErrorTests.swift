import CarafeTesting
import Testing

@testable import CarafeCore

@Suite struct ErrorTests {
    /// The body of a JSON error response.
    struct ErrorBody: Decodable, Equatable {
        let error: String
        let status: UInt
    }

    // MARK: HTTPError and abort

    @Test func httpErrorDefaultsItsMessageToTheReasonPhrase() {
        let plain = HTTPError(.forbidden)
        #expect(plain.message == "Forbidden")
        #expect(plain.headers.isEmpty)
        #expect(plain.description == "403 Forbidden: Forbidden")
        #expect(HTTPError(.notFound, "No post 7.").description == "404 Not Found: No post 7.")
    }

    @Test func abortThrowsAnHTTPError() {
        let error = #expect(throws: HTTPError.self) { try abort(.conflict, "Already exists.") }
        #expect(error?.status == .conflict)
        #expect(error?.message == "Already exists.")
    }

    @Test func httpErrorsAnswerWithTheirStatusAndMessage() async {
        let app = App()
        app.get("/abort/:code") { req -> String in
            let code = try req.parameters.require("code", as: Int.self)
            try abort(HTTPStatus(statusCode: code), code == 418 ? "Short and stout." : nil)
        }
        app.get("/auth") { _ -> String in
            throw HTTPError(.unauthorized, "Log in first.", headers: ["www-authenticate": #"Basic realm="app""#])
        }

        let cases: [(String, HTTPStatus, String)] = [
            ("/abort/400", .badRequest, "400 Bad Request: Bad Request\n"),
            ("/abort/403", .forbidden, "403 Forbidden: Forbidden\n"),
            ("/abort/404", .notFound, "404 Not Found: Not Found\n"),
            ("/abort/409", .conflict, "409 Conflict: Conflict\n"),
            ("/abort/418", HTTPStatus(statusCode: 418), "418 I'm a teapot: Short and stout.\n"),
            ("/abort/503", .serviceUnavailable, "503 Service Unavailable: Service Unavailable\n"),
        ]
        for (path, status, text) in cases {
            let response = await app.test.get(path)
            #expect(response.status == status, "\(path)")
            #expect(response.text == text, "\(path)")
            #expect(response.header("content-type") == "text/plain; charset=utf-8", "\(path)")
        }

        let auth = await app.test.get("/auth")
        #expect(auth.status == .unauthorized)
        #expect(auth.header("www-authenticate") == #"Basic realm="app""#)
    }

    // MARK: Uncaught errors

    @Test func anUncaughtErrorIsA500WithoutDetails() async {
        let app = App()
        app.get("/boom") { _ -> String in throw Boom() }

        let response = await app.test.get("/boom")
        #expect(response.status == .internalServerError)
        #expect(response.text == "500 Internal Server Error: Internal Server Error\n")
        #expect(!response.text.contains("hunter2"))
    }

    @Test func anUncaughtErrorShowsItsDetailsInDebugMode() async {
        let app = App()
        app.debug = true
        app.get("/boom") { _ -> String in throw Boom() }

        let response = await app.test.get("/boom")
        #expect(response.status == .internalServerError)
        #expect(response.text.hasPrefix("500 Internal Server Error: "))
        #expect(response.text.contains("Boom"))
        #expect(response.text.contains("password=hunter2"))
    }

    // MARK: Error handlers

    @Test func anErrorHandlerByStatusAnswersWithThatStatus() async {
        let app = App()
        app.errorHandler(.notFound) { req, error in
            HTML("<h1>Nothing at \(HTML.escape(req.path))</h1><p>\(HTML.escape(error.message))</p>")
        }
        app.get("/posts/:id") { _ -> String in try abort(.notFound, "No post <7>.") }

        let aborted = await app.test.get("/posts/7")
        #expect(aborted.status == .notFound)
        #expect(aborted.header("content-type") == "text/html; charset=utf-8")
        #expect(aborted.text == "<h1>Nothing at /posts/7</h1><p>No post &lt;7&gt;.</p>")

        let unrouted = await app.test.get("/nowhere")
        #expect(unrouted.status == .notFound)
        #expect(unrouted.text == "<h1>Nothing at /nowhere</h1><p>No route for /nowhere.</p>")
    }

    @Test func anErrorHandlerByStatusMayChooseAnotherStatus() async {
        let app = App()
        app.errorHandler(.notFound) { _, _ in Response(status: .gone, text: "It is gone.") }
        app.get("/old") { _ -> String in try abort(.notFound) }

        let response = await app.test.get("/old")
        #expect(response.status == .gone)
        #expect(response.text == "It is gone.")
    }

    @Test func aHandlerFor500CatchesErrorsOfAnyTypeWithoutTheirDetails() async {
        let app = App()
        app.errorHandler(.internalServerError) { _, error in "Sorry: \(error.message) (\(error.status.code))" }
        app.get("/boom") { _ -> String in throw Boom() }

        let response = await app.test.get("/boom")
        #expect(response.status == .internalServerError)
        #expect(response.text == "Sorry: Internal Server Error (500)")
    }

    @Test func anErrorHandlerByTypeGetsTheErrorItself() async {
        let app = App()
        app.errorHandler(Boom.self) { _, boom in Response(status: .serviceUnavailable, text: "handled \(boom.secret)") }
        app.get("/boom") { _ -> String in throw Boom(secret: "s1") }
        app.get("/other") { _ -> String in try abort(.badRequest) }

        let response = await app.test.get("/boom")
        #expect(response.status == .serviceUnavailable)
        #expect(response.text == "handled s1")
        // Other errors are not its business.
        #expect(await app.test.get("/other").status == .badRequest)
    }

    @Test func theFirstMatchingHandlerOfABlueprintWins() async {
        let app = App()
        app.errorHandler(Boom.self) { _, _ in "by type" }
        app.errorHandler(.internalServerError) { _, _ in "by status" }
        app.get("/boom") { _ -> String in throw Boom() }

        #expect(await app.test.get("/boom").text == "by type")
    }

    @Test func aBlueprintsHandlersComeBeforeTheAppsAndApplyOnlyToItsRoutes() async {
        let app = App()
        let api = Blueprint("api", prefix: "/api")
        let v1 = Blueprint("v1", prefix: "/v1")
        app.errorHandler(.notFound) { _, _ in "app 404" }
        app.errorHandler(Boom.self) { _, _ in "app boom" }
        api.errorHandler(.notFound) { _, _ in "api 404" }
        v1.errorHandler(Boom.self) { _, _ in "v1 boom" }
        app.get("/missing") { _ -> String in try abort(.notFound) }
        api.get("/missing") { _ -> String in try abort(.notFound) }
        api.get("/boom") { _ -> String in throw Boom() }
        v1.get("/missing") { _ -> String in try abort(.notFound) }
        v1.get("/boom") { _ -> String in throw Boom() }
        api.register(v1)
        app.register(api)

        #expect(await app.test.get("/missing").text == "app 404")
        #expect(await app.test.get("/api/missing").text == "api 404")
        #expect(await app.test.get("/api/boom").text == "app boom")
        #expect(await app.test.get("/api/v1/missing").text == "api 404")
        #expect(await app.test.get("/api/v1/boom").text == "v1 boom")
        // No route matched: the handlers of the blueprints whose prefix the path is under.
        #expect(await app.test.get("/api/v1/nothing").text == "api 404")
        #expect(await app.test.get("/nothing").text == "app 404")
    }

    @Test func anErrorHandlerThatThrowsGivesA500WithoutDetails() async {
        let app = App()
        app.errorHandler(Boom.self) { _, _ -> String in throw Boom(secret: "handler's secret") }
        app.get("/boom") { _ -> String in throw Boom(secret: "route's secret") }

        let response = await app.test.get("/boom")
        #expect(response.status == .internalServerError)
        #expect(response.text == "500 Internal Server Error: Internal Server Error\n")
    }

    @Test func anErrorHandlerResponseKeepsTheErrorsHeaders() async {
        // RFC 9110 §15.5.6: a 405 MUST carry Allow; §15.5.2: a 401 MUST carry WWW-Authenticate.
        let app = App()
        app.errorHandler(.methodNotAllowed) { _, _ in HTML("<h1>Not allowed</h1>") }
        app.errorHandler(.unauthorized) { _, _ in HTML("<h1>Log in</h1>") }
        app.get("/items") { _ in "list" }
        app.get("/private") { _ -> String in throw HTTPError(.unauthorized, headers: ["www-authenticate": "Basic"]) }

        let notAllowed = await app.test.delete("/items")
        #expect(notAllowed.status == .methodNotAllowed)
        #expect(notAllowed.text == "<h1>Not allowed</h1>")
        #expect(notAllowed.header("allow") == "GET, HEAD, OPTIONS")

        let unauthorized = await app.test.get("/private")
        #expect(unauthorized.status == .unauthorized)
        #expect(unauthorized.header("www-authenticate") == "Basic")
    }

    // MARK: JSON errors

    @Test func errorsAreJSONForClientsThatAcceptJSON() async throws {
        let app = App()
        app.get("/items") { _ in "list" }
        app.get("/boom") { _ -> String in throw Boom() }
        let json: HTTPHeaders = ["accept": "application/json"]

        let notFound = await app.test.get("/nowhere", headers: json)
        #expect(notFound.status == .notFound)
        #expect(notFound.header("content-type") == "application/json")
        #expect(try notFound.json(ErrorBody.self) == ErrorBody(error: "No route for /nowhere.", status: 404))

        let notAllowed = await app.test.delete("/items", headers: json)
        #expect(notAllowed.header("allow") == "GET, HEAD, OPTIONS")
        #expect(try notAllowed.json(ErrorBody.self).status == 405)

        let boom = await app.test.get("/boom", headers: json)
        #expect(try boom.json(ErrorBody.self) == ErrorBody(error: "Internal Server Error", status: 500))
        #expect(!boom.text.contains("hunter2"))
    }

    @Test func browsersGetHTMLAndOthersText() async {
        let app = App()
        let response = await app.test.get(
            "/nowhere",
            headers: ["accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8"]
        )
        #expect(response.header("content-type") == "text/html; charset=utf-8")
        #expect(response.text.contains("<title>404 Not Found</title>"))
        #expect(response.text.contains("<p>No route for /nowhere.</p>"))
        let escaped = await app.test.get("/%3Cscript%3E")
        #expect(escaped.header("content-type") == "text/plain; charset=utf-8")
        let html = await app.test.get("/%3Cscript%3E", headers: ["accept": "text/html"])
        #expect(html.text.contains("No route for /&lt;script&gt;."))
        let curl = await app.test.get("/nowhere", headers: ["accept": "*/*"])
        #expect(curl.text == "404 Not Found: No route for /nowhere.\n")
    }

    @Test func aBlueprintDeclaredAsAnAPIAnswersJSONEvenToBrowsers() async throws {
        let app = App()
        let api = Blueprint("api", prefix: "/api")
        api.errorFormat(.json)
        api.get("/items") { _ in "items" }
        api.post("/items") { req in JSON(try req.decode([String: String].self)) }
        app.register(api)
        let browser: HTTPHeaders = ["accept": "text/html"]
        for (method, path, status) in [(HTTPMethod.GET, "/api/nope", 404), (.DELETE, "/api/items", 405)] {
            let response = await app.test.request(method, path, headers: browser)
            #expect(response.header("content-type") == "application/json", "\(path)")
            #expect(try response.json(ErrorBody.self).status == status)
        }
        let bad = await app.test.post("/api/items", "{", contentType: "application/json", headers: browser)
        #expect(try bad.json(ErrorBody.self).status == 400)
        let tooLarge = await app.test.post("/api/items", String(repeating: "x", count: (1 << 20) + 1), headers: browser)
        #expect(try tooLarge.json(ErrorBody.self).status == 413)
        // Outside the blueprint, the client's format.
        #expect(await app.test.get("/nope", headers: browser).header("content-type") == "text/html; charset=utf-8")
    }

    @Test func aBlueprintsErrorHandlerAnswersForUnmatchedPathsUnderItsPrefix() async throws {
        let app = App()
        app.errorHandler(.notFound) { _, _ in HTML("<p>page</p>") }
        let api = Blueprint("api", prefix: "/api")
        api.errorHandler(.notFound) { _, error in JSON(["api": error.message]) }
        api.get("/items") { _ in "items" }
        app.register(api)
        #expect(await app.test.get("/api/nope", headers: ["accept": "application/json"]).text == #"{"api":"No route for \/api\/nope."}"#)
        #expect(await app.test.get("/nope").text == "<p>page</p>")
    }
}

@Suite struct FreezingTests {
    /// Settings, routes and hooks fixed at the first use: every request sees the same app.
    @Test func theAppFreezesAtItsFirstRequest() async {
        let app = App()
        app.maxBodySize = 3
        app.post("/echo") { req in req.bodyText }
        #expect(await app.test.post("/echo", "1234").status == .payloadTooLarge)
        #expect(app.maxBodySize == 3)
    }

    @Test func aRouteRegisteredAfterTheAppFrozeStopsTheProcessNamingIt() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let app = App()
            app.get("/a") { _ in "a" }
            _ = app.routes
            app.get("/late") { _ in "late" }
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("route GET /late was registered after the app froze"))
    }

    @Test func aSettingChangedAfterTheFirstRequestStopsTheProcessNamingIt() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let app = App()
            app.get("/a") { _ in "a" }
            _ = await app.test.get("/a")
            app.debug = true
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("App.debug was changed after the app froze"))
    }

    @Test func aBlueprintRegisteredLateStopsTheProcessToo() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let app = App()
            let api = Blueprint("api", prefix: "/api")
            app.register(api)
            _ = try? app.url(for: "nothing")
            api.get("/late") { _ in "late" }
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("route GET /late was registered after the app froze"))
    }

    @Test func listingTheRoutesStartsNoThreadPool() {
        let app = App()
        app.get("/a") { _ in "a" }
        #expect(app.routes.count == 1)
        #expect(!app.hasStartedServices)
    }
}
