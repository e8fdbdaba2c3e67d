import CarafeTesting
import Foundation
import Testing

@testable import CarafeCore

@Suite struct ResponseTests {
    struct Item: Content, Equatable {
        let id: Int
        let name: String
    }

    /// What the test client gets when a handler returns `value`.
    private func response(to value: some ResponseEncodable) async -> TestResponse {
        let app = App()
        app.get("/") { _ in value }
        return await app.test.get("/")
    }

    // MARK: What handlers return

    @Test func stringIsPlainText() async {
        let response = await self.response(to: "Hello, World!")
        #expect(response.status == .ok)
        #expect(response.header("content-type") == "text/plain; charset=utf-8")
        #expect(response.text == "Hello, World!")

        #expect(await self.response(to: "Hello, World!".dropLast()).text == "Hello, World")
    }

    @Test func htmlIsTextHtmlWithItsStatus() async {
        let page = await self.response(to: HTML("<h1>Hi</h1>"))
        #expect(page.status == .ok)
        #expect(page.header("content-type") == "text/html; charset=utf-8")
        #expect(page.text == "<h1>Hi</h1>")

        #expect(await self.response(to: HTML("<h1>Gone</h1>", status: .gone)).status == .gone)
    }

    @Test func jsonEncodesAnyValueWithItsStatus() async throws {
        let response = await self.response(to: JSON(["ok": true], status: .created))
        #expect(response.status == .created)
        #expect(response.header("content-type") == "application/json")
        #expect(try response.json([String: Bool].self) == ["ok": true])
    }

    @Test func contentIsJSON() async throws {
        let one = await self.response(to: Item(id: 1, name: "tea"))
        #expect(one.status == .ok)
        #expect(one.header("content-type") == "application/json")
        #expect(try one.json(Item.self) == Item(id: 1, name: "tea"))

        let list = await self.response(to: [Item(id: 1, name: "tea"), Item(id: 2, name: "coffee")])
        #expect(list.header("content-type") == "application/json")
        #expect(try list.json([Item].self).map(\.name) == ["tea", "coffee"])

        let byName = await self.response(to: ["tea": Item(id: 1, name: "tea")])
        #expect(try byName.json([String: Item].self) == ["tea": Item(id: 1, name: "tea")])
    }

    @Test func optionalNilIs404AndSomeIsTheValue() async {
        let missing = await self.response(to: String?.none)
        #expect(missing.status == .notFound)
        #expect(missing.text == "404 Not Found: Not Found\n")

        let present = await self.response(to: Optional("here"))
        #expect(present.status == .ok)
        #expect(present.text == "here")
    }

    @Test func statusIsAnEmptyResponse() async {
        let response = await self.response(to: HTTPStatus.accepted)
        #expect(response.status == .accepted)
        #expect(response.body.readableBytes == 0)
        #expect(response.header("content-type") == nil)
    }

    @Test func byteBufferIsOctetStream() async {
        let response = await self.response(to: ByteBuffer(bytes: [0, 1, 2, 255]))
        #expect(response.status == .ok)
        #expect(response.header("content-type") == "application/octet-stream")
        #expect(Array(response.body.readableBytesView) == [0, 1, 2, 255])
    }

    @Test func aResponseIsSentAsBuilt() async {
        var built = Response(
            status: .created,
            headers: ["x-id": "7", "content-type": "text/csv"],
            text: "a,b",
            contentType: "text/csv; charset=utf-8"
        )
        built.headers.add(name: "x-extra", value: "1")
        let response = await self.response(to: built)
        #expect(response.status == .created)
        #expect(response.headers["content-type"] == ["text/csv; charset=utf-8"])
        #expect(response.header("x-id") == "7")
        #expect(response.header("x-extra") == "1")
        #expect(response.text == "a,b")
    }

    // MARK: Redirects

    @Test func redirectIs302WithLocationUnlessTold() async {
        let found = await self.response(to: Response.redirect(to: "/login?next=%2F"))
        #expect(found.status == .found)
        #expect(found.header("location") == "/login?next=%2F")
        #expect(found.body.readableBytes == 0)

        let seeOther = await self.response(to: Response.redirect(to: "/done", status: .seeOther))
        #expect(seeOther.status == .seeOther)
        #expect(seeOther.header("location") == "/done")
    }

    // MARK: Cookies

    @Test func setCookieUsesTheSafeDefaults() {
        var response = Response()
        response.setCookie(Cookie("session", "abc"))
        #expect(response.headers["set-cookie"] == ["session=abc; Path=/; HttpOnly; SameSite=Lax"])
    }

    @Test func setCookieWritesEveryAttribute() {
        var response = Response()
        response.setCookie(
            Cookie("id", "1", maxAge: 3600, path: "/app", domain: "example.com", secure: true, httpOnly: true, sameSite: .strict)
        )
        response.setCookie(Cookie("js", "2", path: nil, httpOnly: false, sameSite: nil))
        #expect(
            response.headers["set-cookie"] == [
                "id=1; Max-Age=3600; Path=/app; Domain=example.com; Secure; HttpOnly; SameSite=Strict",
                "js=2",
            ]
        )
    }

    @Test func sameSiteNoneImpliesSecure() {
        #expect(Cookie("x", "1", sameSite: Cookie.SameSite.none).headerValue == "x=1; Path=/; Secure; HttpOnly; SameSite=None")
    }

    @Test func deleteCookieExpiresIt() {
        var response = Response()
        response.deleteCookie("session")
        response.deleteCookie("pref", path: "/app", domain: "example.com")
        #expect(
            response.headers["set-cookie"] == [
                "session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly",
                "pref=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; Domain=example.com; HttpOnly",
            ]
        )
    }

    @Test func cookieValuesAreEscapedAndComeBackIntact() async {
        let value = "a b;c,d\"e\\f%g é"
        let header = Cookie("k", value).headerValue
        #expect(header.hasPrefix("k=a%20b%3Bc%2Cd%22e%5Cf%25g%20%C3%A9;"))

        // What a browser sends back is the `name=value` part as it was set.
        let app = App()
        app.get("/") { req in req.cookies["k"] ?? "-" }
        let sentBack = String(header.prefix { $0 != ";" })
        #expect(await app.test.get("/", headers: ["cookie": sentBack]).text == value)
    }

    @Test func cookiesSetByAHandlerReachTheClient() async {
        var login = Response.redirect(to: "/", status: .seeOther)
        login.setCookie(Cookie("session", "s1"))
        let response = await self.response(to: login)
        #expect(response.status == .seeOther)
        #expect(response.headers["set-cookie"] == ["session=s1; Path=/; HttpOnly; SameSite=Lax"])
    }

    // MARK: HTML escaping

    @Test func htmlEscapeReplacesTheFiveSpecialCharacters() {
        #expect(
            HTML.escape(#"<a href="x" title='y'>Tom & Jerry</a>"#)
                == "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt;"
        )
        #expect(HTML.escape("plain café ✓") == "plain café ✓")
        #expect(HTML.escape("&amp;") == "&amp;amp;")
    }
}
