import CarafeTesting
import Testing

@testable import CarafeCore

@Suite struct BlueprintTests {
    /// An app with nested, prefixed and named blueprints:
    ///
    ///     GET /                  index
    ///     GET /links             -            (answers links built with `req.url(for:)`)
    ///     GET /api               api.root
    ///     GET /api/users/:id     api.user
    ///     GET /api/v1/ping       api.v1.ping
    ///     GET /static/*path      static       (from a blueprint without a name)
    private func makeApp() -> App {
        let app = App()
        app.get("/", name: "index") { _ in "index" }
        let api = Blueprint("api", prefix: "/api")
        api.get("/", name: "root") { _ in "api root" }
        api.get("/users/:id", name: "user") { req in "user \(req.parameters["id"] ?? "?")" }
        let v1 = Blueprint("v1", prefix: "v1/")
        v1.get("/ping", name: "ping") { req in "pong from \(req.route?.name ?? "?")" }
        api.register(v1)
        let assets = Blueprint("", prefix: "/static")
        assets.get("/*path", name: "static") { req in "file \(req.parameters["path"] ?? "?")" }
        app.register(api)
        app.register(assets)
        app.get("/links") { req in
            try [req.url(for: "index"), req.url(for: "api.user", ["id": "7"]), req.url(for: "api.v1.ping")].joined(separator: " ")
        }
        return app
    }

    // MARK: Prefixes

    @Test func aBlueprintsRoutesLiveUnderItsPrefix() async {
        let app = makeApp()

        #expect(await app.test.get("/api/users/7").text == "user 7")
        #expect(await app.test.get("/api").text == "api root")
        #expect(await app.test.get("/api/").text == "api root")
        #expect(await app.test.get("/users/7").status == .notFound)
        #expect(await app.test.get("/static/css/site.css").text == "file css/site.css")
    }

    @Test func nestedBlueprintsAddUpTheirPrefixes() async {
        let app = makeApp()

        #expect(await app.test.get("/api/v1/ping").text == "pong from api.v1.ping")
        #expect(await app.test.get("/v1/ping").status == .notFound)
    }

    // MARK: Names

    @Test func routeNamesArePrefixedByTheNamesOfTheirBlueprints() {
        let names = makeApp().routes.map { "\($0.pattern) \($0.name ?? "-")" }
        #expect(
            names == [
                "/ index", "/links -", "/api api.root", "/api/users/:id api.user", "/api/v1/ping api.v1.ping", "/static/*path static",
            ]
        )
    }

    // MARK: url(for:)

    @Test func urlForFillsInTheParameters() throws {
        let app = makeApp()

        #expect(try app.url(for: "index") == "/")
        #expect(try app.url(for: "api.root") == "/api")
        #expect(try app.url(for: "api.user", ["id": "7"]) == "/api/users/7")
        #expect(try app.url(for: "api.user", ["id": "Ada Lovelace?"]) == "/api/users/Ada%20Lovelace%3F")
        #expect(try app.url(for: "api.v1.ping") == "/api/v1/ping")
    }

    @Test func urlForACatchAllKeepsItsSlashesAndEscapesEachSegment() throws {
        let app = makeApp()

        #expect(try app.url(for: "static", ["path": "css/site.css"]) == "/static/css/site.css")
        #expect(try app.url(for: "static", ["path": "my docs/ré sumé.pdf"]) == "/static/my%20docs/r%C3%A9%20sum%C3%A9.pdf")
    }

    @Test func extraParametersGoToTheQueryString() throws {
        let app = makeApp()

        #expect(try app.url(for: "api.user", ["id": "7", "tab": "posts", "q": "a b&c"]) == "/api/users/7?q=a+b%26c&tab=posts")
        #expect(
            try app.url(for: "api.user", ["id": "7", "tab": "posts"], query: [("page", "2"), ("page", "3")])
                == "/api/users/7?tab=posts&page=2&page=3"
        )
        #expect(try app.url(for: "index", query: [("next", "/api")]) == "/?next=%2Fapi")
    }

    @Test func urlForAMissingParameterOrUnknownNameThrows() {
        let app = makeApp()

        let missing = #expect(throws: URLBuildError.self) { try app.url(for: "api.user", ["ID": "7"]) }
        #expect(missing?.description == "route 'api.user' (/api/users/:id) needs the parameter 'id'")

        let unknown = #expect(throws: URLBuildError.self) { try app.url(for: "user") }
        #expect(unknown?.description == "no route is named 'user'")
    }

    @Test func aHandlerBuildsURLsFromItsRequest() async throws {
        let app = makeApp()

        let links = await app.test.get("/links").text
        #expect(links == "/ /api/users/7 /api/v1/ping")
        for link in links.split(separator: " ") {
            #expect(await app.test.get(String(link)).status == .ok, "\(link)")
        }
    }
}
