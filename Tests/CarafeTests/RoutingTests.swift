import CarafeTesting
import Foundation
import NIOHTTP1
import Testing

@testable import Carafe
@testable import CarafeCore

@Suite struct RoutingTests {
    // MARK: Matching

    @Test func literalBeatsParameterWhichBeatsCatchAllWhateverTheRegistrationOrder() async {
        let app = App()
        app.get("/files/*rest") { req in "catch-all \(req.parameters["rest"] ?? "?")" }
        app.get("/files/:name") { req in "parameter \(req.parameters["name"] ?? "?")" }
        app.get("/files/readme") { _ in "literal" }

        #expect(await app.test.get("/files/readme").text == "literal")
        #expect(await app.test.get("/files/other").text == "parameter other")
        #expect(await app.test.get("/files/a/b/c").text == "catch-all a/b/c")
    }

    @Test func matchingBacktracksWhenTheLiteralBranchDeadEnds() async {
        let app = App()
        app.get("/a/b/d") { _ in "literal" }
        app.get("/a/:x/c") { req in "x=\(req.parameters["x"] ?? "?")" }
        app.get("/p/:q/w") { req in "q=\(req.parameters["q"] ?? "?")" }
        app.get("/:x/:y/z") { req in "x=\(req.parameters["x"] ?? "?") y=\(req.parameters["y"] ?? "?")" }
        app.get("/docs/:page/edit") { _ in "edit" }
        app.get("/docs/*path") { req in "doc \(req.parameters["path"] ?? "?")" }

        #expect(await app.test.get("/a/b/d").text == "literal")
        #expect(await app.test.get("/a/b/c").text == "x=b")
        // The values bound on the abandoned branch (q=1) must not leak into the one that matched.
        #expect(await app.test.get("/p/1/z").text == "x=p y=1")
        #expect(await app.test.get("/docs/intro/edit").text == "edit")
        #expect(await app.test.get("/docs/intro/view").text == "doc intro/view")
    }

    @Test func aRouteForTheRequestsMethodWinsOverAMoreSpecificPathForAnotherMethod() async {
        let app = App()
        app.get("/users/new") { _ in "form" }
        app.post("/users/:id") { req in "update \(req.parameters["id"] ?? "?")" }

        #expect(await app.test.get("/users/new").text == "form")
        #expect(await app.test.post("/users/new").text == "update new")
        let put = await app.test.request(.PUT, "/users/new")
        #expect(put.status == .methodNotAllowed)
        #expect(put.headers["allow"] == ["GET, HEAD, OPTIONS"])
    }

    @Test func rootAndTrailingSlashes() async {
        let app = App()
        app.get("/") { _ in "root" }
        app.get("/users/") { _ in "users" }

        #expect(await app.test.get("/").text == "root")
        #expect(await app.test.get("/users").text == "users")
        #expect(await app.test.get("/users/").text == "users")
    }

    @Test func anUnknownPathIs404() async {
        let app = App()
        app.get("/static/*path") { _ in "file" }

        let response = await app.test.get("/nowhere")
        #expect(response.status == .notFound)
        #expect(response.text == "404 Not Found: No route for /nowhere.\n")
        // A catch-all needs at least one segment.
        #expect(await app.test.get("/static").status == .notFound)
    }

    @Test func parametersAreNamedAndAnonymousCatchAllIsStar() async {
        let app = App()
        app.get("/users/:user/posts/:post") { req in
            req.parameters.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
        }
        app.get("/assets/*") { req in req.parameters["*"] ?? "?" }

        #expect(await app.test.get("/users/ada/posts/7").text == "user=ada post=7")
        #expect(await app.test.get("/assets/img/logo.png").text == "img/logo.png")
    }

    // MARK: Percent-encoding

    @Test func percentEncodedPathsAreDecodedBeforeMatching() async {
        let app = App()
        app.get("/café") { req in "literal \(req.path) from \(req.uri)" }
        app.get("/greet/:name") { req in "hello \(req.parameters["name"] ?? "?")" }

        #expect(await app.test.get("/caf%C3%A9?x=1").text == "literal /café from /caf%C3%A9?x=1")
        #expect(await app.test.get("/greet/Jos%C3%A9%20Mar%C3%ADa").text == "hello José María")
    }

    @Test func anEncodedSlashStaysInsideItsSegment() async throws {
        let app = App()
        app.get("/files/:name", name: "file") { req in "name=\(req.parameters["name"] ?? "?")" }

        // url(for:) escapes the slash so that the value stays one segment; the URL must lead back.
        let url = try app.url(for: "file", ["name": "a/b"])
        #expect(url == "/files/a%2Fb")
        let response = await app.test.get(url)
        #expect(response.status == .ok)
        #expect(response.text == "name=a/b")
    }

    // MARK: Typed parameters

    @Test func typedParameterConvertsOrAnswers400() async {
        let app = App()
        app.get("/users/:id") { req in
            let id = try req.parameters.require("id", as: Int.self)
            return "next is \(id + 1)"
        }
        app.get("/orders/:id") { req in try req.parameters.require("order", as: Int.self).description }

        #expect(await app.test.get("/users/41").text == "next is 42")

        let bad = await app.test.get("/users/abc")
        #expect(bad.status == .badRequest)
        #expect(bad.text == "400 Bad Request: path parameter 'id' must be an Int, got 'abc'.\n")

        let missing = await app.test.get("/orders/1")
        #expect(missing.status == .badRequest)
        #expect(missing.text == "400 Bad Request: path parameter 'order' is required.\n")
    }

    // MARK: Methods

    @Test func everyMethodReachesItsOwnHandler() async {
        let app = App()
        app.get("/r") { _ in "get" }
        app.post("/r") { _ in "post" }
        app.put("/r") { _ in "put" }
        app.patch("/r") { _ in "patch" }
        app.delete("/r") { _ in "delete" }
        app.on(.RAW(value: "PURGE"), "/r") { _ in "purge" }

        let expected: [(HTTPMethod, String)] = [
            (.GET, "get"), (.POST, "post"), (.PUT, "put"), (.PATCH, "patch"), (.DELETE, "delete"),
            (.RAW(value: "PURGE"), "purge"),
            (.PURGE, "purge"),  // what NIO's parser makes of "PURGE" on the wire
        ]
        for (method, body) in expected {
            let response = await app.test.request(method, "/r")
            #expect(response.status == .ok, "\(method)")
            #expect(response.text == body, "\(method)")
        }
    }

    @Test func headIsAnsweredByTheGetRouteWithoutABody() async {
        let app = App()
        let calls = TestRecorder()
        app.get("/page") { req in
            calls.record(req.method.rawValue)
            return HTML("<p>hello</p>")
        }

        let response = await app.test.head("/page")
        #expect(response.status == .ok)
        #expect(response.body.readableBytes == 0)
        #expect(response.header("content-type") == "text/html; charset=utf-8")
        #expect(calls.all == ["HEAD"])

        // The responder keeps the GET body: the server sets Content-Length from it, then NIO drops it.
        let served = await app.respond(to: HTTPServerRequest(head: HTTPRequestHead(version: .http1_1, method: .HEAD, uri: "/page")))
        #expect(served.status == .ok)
        #expect(served.body.knownLength == "<p>hello</p>".utf8.count)
    }

    @Test func anExplicitHeadRouteWinsOverTheGetFallback() async {
        let app = App()
        app.get("/page") { _ in Response(status: .ok, headers: ["x-from": "get"]) }
        app.on(.HEAD, "/page") { _ in Response(status: .ok, headers: ["x-from": "head"]) }

        #expect(await app.test.head("/page").header("x-from") == "head")
    }

    @Test func optionsIsAnsweredAutomaticallyWithAllow() async {
        let app = App()
        app.get("/items") { _ in "list" }
        app.post("/items") { _ in "create" }
        app.on(.RAW(value: "PURGE"), "/cache") { _ in "purged" }

        let response = await app.test.options("/items")
        #expect(response.status == .noContent)
        #expect(response.header("allow") == "GET, HEAD, OPTIONS, POST")
        #expect(response.body.readableBytes == 0)

        #expect(await app.test.options("/cache").header("allow") == "OPTIONS, PURGE")
        #expect(await app.test.options("/nowhere").status == .notFound)
    }

    @Test func anExplicitOptionsRouteWinsOverTheAutomaticOne() async {
        let app = App()
        app.get("/items") { _ in "list" }
        app.on(.OPTIONS, "/items") { _ in "custom options" }

        let response = await app.test.options("/items")
        #expect(response.status == .ok)
        #expect(response.text == "custom options")
    }

    @Test func aMethodWithoutARouteIs405WithAllow() async {
        let app = App()
        app.get("/items") { _ in "list" }
        app.post("/items") { _ in "create" }
        app.post("/forms") { _ in "sent" }

        let response = await app.test.delete("/items")
        #expect(response.status == .methodNotAllowed)
        #expect(response.header("allow") == "GET, HEAD, OPTIONS, POST")
        #expect(response.text == "405 Method Not Allowed: DELETE is not allowed for /items; allowed: GET, HEAD, OPTIONS, POST.\n")

        // No GET, so no HEAD either.
        let head = await app.test.head("/forms")
        #expect(head.status == .methodNotAllowed)
        #expect(head.header("allow") == "OPTIONS, POST")
    }

    // MARK: Blocking routes

    /// Where a handler ran: the thread's name and whether it was inside a Swift task.
    struct Place: Content {
        let thread: String
        let inTask: Bool

        static var here: Place {
            Place(thread: threadName, inTask: withUnsafeCurrentTask { $0 != nil })
        }

        /// The current thread's name as the kernel knows it (NIO names its pool's threads `TP-#n`).
        private static var threadName: String {
            #if os(Linux)
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
            return comm.trimmingCharacters(in: .newlines)
            #else
            var name = [CChar](repeating: 0, count: 64)
            pthread_getname_np(pthread_self(), &name, name.count)
            return String(decoding: name.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self)
            #endif
        }
    }

    @Test func aBlockingRouteRunsOnTheThreadPool() async throws {
        let app = App()
        app.get("/blocking", blocking: true) { _ in Place.here }
        app.get("/inline", blocking: false) { _ in Place.here }

        let blocking = try await app.test.get("/blocking").json(Place.self)
        #expect(blocking.thread.hasPrefix("TP-#"), "ran on '\(blocking.thread)'")
        #expect(blocking.inTask, "as the request's task, with the pool as its executor")

        let inline = try await app.test.get("/inline").json(Place.self)
        #expect(!inline.thread.hasPrefix("TP-#"), "ran on '\(inline.thread)'")
        #expect(inline.inTask)
    }

    @Test func aBlockingRoutesErrorsGoToTheErrorHandlers() async {
        let app = App()
        app.post("/work", blocking: true) { req in
            guard !req.bodyText.isEmpty else { try abort(.badRequest, "Nothing to do.") }
            return "done"
        }

        #expect(await app.test.post("/work", "x").text == "done")
        let response = await app.test.post("/work")
        #expect(response.status == .badRequest)
        #expect(response.text == "400 Bad Request: Nothing to do.\n")
    }

    // MARK: The route table (the `routes` command)

    @Test func routeTableListsEveryRouteInColumns() {
        let app = App()
        app.get("/", name: "index") { _ in "" }
        app.post("/users/:id") { _ in "" }
        let api = Blueprint("api", prefix: "/api")
        api.get("/users/:id", name: "user") { _ in "" }
        api.on(.RAW(value: "PURGE"), "/cache/*path") { _ in "" }
        app.register(api)

        #expect(
            app.routeTable == """
                worker class: async (routes that do not say blocking: run on the event loop)
                METHOD  PATH              NAME      RUNS ON
                GET     /                 index     event loop
                POST    /users/:id                  event loop
                GET     /api/users/:id    api.user  event loop
                PURGE   /api/cache/*path            event loop

                """
        )
        #expect(
            app.routes.map { "\($0.method.rawValue) \($0.pattern) \($0.name ?? "-")" } == [
                "GET / index", "POST /users/:id -", "GET /api/users/:id api.user", "PURGE /api/cache/*path -",
            ]
        )
    }

    @Test func routeTableOfAnEmptyAppIsItsHeader() {
        #expect(
            App().routeTable
                == "worker class: async (routes that do not say blocking: run on the event loop)\nMETHOD  PATH  NAME  RUNS ON\n"
        )
    }
}
