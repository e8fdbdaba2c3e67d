import CarafeTesting
import Foundation
import Testing

@testable import CarafeCore

@Suite struct RequestTests {
    struct Person: Content, Equatable {
        let name: String
        let age: Int
    }

    /// An app whose `/echo` answers with what `describe` makes of the request.
    private func echo(_ describe: @escaping @Sendable (Request) throws -> String) -> App {
        let app = App()
        app.on(.GET, "/echo") { try describe($0) }
        app.on(.POST, "/echo") { try describe($0) }
        return app
    }

    // MARK: Target

    @Test func pathUriAndQueryStringAreSplitFromTheTarget() async {
        let app = echo { "\($0.method.rawValue) \($0.path) | \($0.uri) | \($0.queryString)" }

        #expect(await app.test.get("/echo?q=a+b&x=%26").text == "GET /echo | /echo?q=a+b&x=%26 | q=a+b&x=%26")
        #expect(await app.test.get("/echo").text == "GET /echo | /echo | ")
    }

    @Test func emptySegmentsOfThePathAreIgnoredWhenRouting() async {
        let app = App()
        app.get("/a/:name/c") { req in "name=\(req.parameters["name"] ?? "-")" }
        app.get("/") { req in "root \(req.path)" }

        #expect(await app.test.get("/a/b/c").text == "name=b")
        #expect(await app.test.get("//a//b//c/").text == "name=b")
        #expect(await app.test.get("/a/b%2Fx/c").text == "name=b/x")
        #expect(await app.test.get("/").text == "root /")
        #expect(await app.test.get("///").text == "root ///")
        #expect(await app.test.get("/a/b").status == .notFound)
    }

    // MARK: Query

    @Test func queryParametersAreDecodedAndRepeatable() async {
        let app = echo { req in
            let page = try req.query.get("page", as: Int.self) ?? 1
            return "page=\(page) tags=\(req.query.all("tag")) last=\(req.query["tag"] ?? "-") q=\(req.query["q"] ?? "-")"
        }

        #expect(
            await app.test.get("/echo?page=2&tag=a&tag=b&q=hello+w%C3%B6rld").text
                == #"page=2 tags=["a", "b"] last=b q=hello wörld"#
        )
        #expect(await app.test.get("/echo").text == "page=1 tags=[] last=- q=-")
    }

    @Test func aQueryParameterOfTheWrongTypeOrMissingIs400() async {
        let app = echo { req in
            let page = try req.query.get("page", as: Int.self) ?? 0
            let q: String = try req.query.require("q")
            return "\(page) \(q)"
        }

        #expect(await app.test.get("/echo?page=3&q=x").text == "3 x")

        let wrongType = await app.test.get("/echo?page=two&q=x")
        #expect(wrongType.status == .badRequest)
        #expect(wrongType.text == "400 Bad Request: query parameter 'page' must be an Int, got 'two'.\n")

        let missing = await app.test.get("/echo?page=3")
        #expect(missing.status == .badRequest)
        #expect(missing.text == "400 Bad Request: query parameter 'q' is required.\n")
    }

    // MARK: Headers and client

    @Test func headersAreReadWhateverTheirCase() async {
        let app = echo { req in "\(req.headers.first(name: "x-token") ?? "-") \(req.headers["X-TOKEN"].count)" }

        #expect(await app.test.get("/echo", headers: ["X-Token": "abc"]).text == "abc 1")
        #expect(await app.test.get("/echo").text == "- 0")
    }

    @Test func theTestClientsRemoteAddressIsSeen() async {
        let app = echo { $0.remoteAddress?.ipAddress ?? "none" }
        #expect(await app.test.get("/echo").text == "127.0.0.1")
    }

    // MARK: Cookies

    @Test func cookiesAreParsedUnquotedAndDecoded() async {
        let app = echo { req in req.cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "|") }

        let response = await app.test.get(
            "/echo",
            headers: [
                "cookie": #"session=abc123; theme="dark"; name=Jos%C3%A9%20M; novalue; =anonymous; b64=YWJj=="#
            ]
        )
        #expect(response.text == "b64=YWJj==|name=José M|session=abc123|theme=dark")
    }

    @Test func theFirstCookieOfANameWins() async {
        let app = echo { $0.cookies["id"] ?? "-" }
        #expect(await app.test.get("/echo", headers: ["cookie": "id=specific; id=general"]).text == "specific")
        #expect(await app.test.get("/echo", headers: HTTPHeaders([("cookie", "id=first"), ("cookie", "id=second")])).text == "first")
    }

    @Test func aCookieValueMayContainACommaAsBrowsersSendIt() async {
        // Browsers send cookie values as set (by JavaScript, other servers): `,` is not a separator in `Cookie`.
        let app = echo { "\($0.cookies["prefs"] ?? "-") \($0.cookies["other"] ?? "-")" }
        let response = await app.test.get("/echo", headers: ["cookie": "prefs=a,b; other=1"])
        #expect(response.text == "a,b 1")
    }

    // MARK: Body

    @Test func bodyAndMediaType() async {
        let app = echo { "\($0.mediaType ?? "none"): \($0.bodyText) (\($0.body.readableBytes) bytes)" }

        #expect(await app.test.post("/echo", "héllo", contentType: "Text/Plain; Charset=UTF-8").text == "text/plain: héllo (6 bytes)")
        #expect(await app.test.request(.POST, "/echo", body: ByteBuffer(string: "raw")).text == "none: raw (3 bytes)")
    }

    @Test func formFieldsAreReadOnlyFromAFormBody() async {
        let app = echo { req in "name=\(req.form["name"] ?? "-") langs=\(req.form.all("lang")) kind=\(req.form.kind)" }

        #expect(
            await app.test.post("/echo", form: ["name": "Ada Lovelace", "lang": "en&fr", "lang": "de=x"]).text
                == #"name=Ada Lovelace langs=["en&fr", "de=x"] kind=form field"#
        )
        #expect(
            await app.test.post("/echo", "name=Ada", contentType: "application/x-www-form-urlencoded; charset=utf-8").text
                == "name=Ada langs=[] kind=form field"
        )
        #expect(await app.test.post("/echo", "name=Ada", contentType: "text/plain").text == "name=- langs=[] kind=form field")
    }

    // MARK: Decoding

    /// An app whose `/people` decodes a `Person` from the body and answers it.
    private func people() -> App {
        let app = App()
        app.post("/people") { req in try req.decode(Person.self) }
        return app
    }

    @Test func decodesJSON() async throws {
        let app = people()

        let response = try await app.test.post("/people", json: Person(name: "Ada", age: 36))
        #expect(response.status == .ok)
        #expect(try response.json(Person.self) == Person(name: "Ada", age: 36))

        for contentType in ["application/json; charset=utf-8", "application/vnd.example+json"] {
            let other = await app.test.post("/people", #"{"name":"Grace","age":85}"#, contentType: contentType)
            #expect(try other.json(Person.self) == Person(name: "Grace", age: 85), "\(contentType)")
        }
    }

    @Test func decodesAForm() async throws {
        let response = await people().test.post("/people", form: ["name": "Ada Lovelace", "age": "36"])
        #expect(response.status == .ok)
        #expect(try response.json(Person.self) == Person(name: "Ada Lovelace", age: 36))
    }

    @Test func anUnsupportedContentTypeIs415() async {
        let app = people()

        let text = await app.test.post("/people", "Ada, 36", contentType: "text/csv")
        #expect(text.status == .unsupportedMediaType)
        #expect(
            text.text
                == "415 Unsupported Media Type: Expected a body of type application/json, application/x-www-form-urlencoded or multipart/form-data, got text/csv.\n"
        )

        let none = await app.test.request(.POST, "/people", body: ByteBuffer(string: "Ada"))
        #expect(none.status == .unsupportedMediaType)
        #expect(none.text.hasSuffix("got none.\n"))
    }

    @Test func aMalformedBodyIs400NamingTheField() async {
        let app = people()

        let wrongType = await app.test.post("/people", #"{"name":"Ada","age":"old"}"#, contentType: "application/json")
        #expect(wrongType.status == .badRequest)
        #expect(wrongType.text.hasPrefix("400 Bad Request: Invalid request body: 'age': "))

        let missing = await app.test.post("/people", #"{"age":36}"#, contentType: "application/json")
        #expect(missing.status == .badRequest)
        #expect(missing.text == "400 Bad Request: Invalid request body: 'name' is required.\n")

        let notJSON = await app.test.post("/people", "{name", contentType: "application/json")
        #expect(notJSON.status == .badRequest)
        #expect(notJSON.text.hasPrefix("400 Bad Request: Invalid request body: "))

        let badForm = await app.test.post("/people", form: ["name": "Ada", "age": "abc"])
        #expect(badForm.status == .badRequest)
        #expect(badForm.text == "400 Bad Request: Invalid request body: 'age': expected an Int, got 'abc'\n")
    }

    // MARK: Body limit

    @Test func aBodyOverMaxBodySizeIs413AndNeverReachesTheHandler() async {
        let app = App()
        app.maxBodySize = 8
        let calls = TestRecorder()
        app.post("/upload") { req in
            calls.record(req.bodyText)
            return "got \(req.body.readableBytes)"
        }

        #expect(await app.test.post("/upload", "12345678").text == "got 8")

        let response = await app.test.post("/upload", "123456789")
        #expect(response.status == .payloadTooLarge)
        // As the server answers it (HTTPRequestHandler.reject).
        #expect(response.header("content-type") == "text/plain; charset=utf-8")
        #expect(response.text == "413 Payload Too Large: Request body is larger than the limit of 8 bytes.\n")
        #expect(calls.all == ["12345678"])
    }
}
