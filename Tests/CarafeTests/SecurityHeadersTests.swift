import CarafeTesting
import Testing

@testable import CarafeCore

/// `App.securityHeaders`: nosniff on every response, framing limited on HTML, what a route
/// sets left alone, and all of it off with `.none`.
@Suite struct SecurityHeadersTests {
    private func app() -> App {
        let app = App()
        app.get("/page") { _ in HTML("<form method=post></form>") }
        app.get("/text") { _ in "plain" }
        app.get("/shouted") { _ in Response(text: "<p>hi</p>", contentType: "TEXT/HTML") }
        app.get("/htmlish") { _ in Response(text: "<p>hi</p>", contentType: "text/htm") }
        app.get("/embeddable") { _ in
            var response = Response(text: "<p>widget</p>", contentType: "text/html; charset=utf-8")
            response.headers.replaceOrAdd(name: "content-security-policy", value: "frame-ancestors https://partner.example")
            return response
        }
        return app
    }

    @Test func htmlCannotBeFramedByAnotherSite() async {
        let response = await self.app().test.get("/page")
        #expect(response.header("x-content-type-options") == "nosniff")
        #expect(response.header("x-frame-options") == "SAMEORIGIN")
        #expect(response.header("content-security-policy") == "frame-ancestors 'self'")
    }

    @Test func theMediaTypeIsMatchedWithoutRegardToCase() async {
        let app = self.app()
        #expect(await app.test.get("/shouted").header("x-frame-options") == "SAMEORIGIN")
        #expect(await app.test.get("/htmlish").header("x-frame-options") == nil)
    }

    @Test func otherResponsesGetNosniffOnly() async {
        let app = self.app()
        let text = await app.test.get("/text")
        #expect(text.header("x-content-type-options") == "nosniff")
        #expect(text.header("x-frame-options") == nil && text.header("content-security-policy") == nil)
        let missing = await app.test.get("/nothing-here")
        #expect(missing.header("x-content-type-options") == "nosniff")
    }

    @Test func aRoutesOwnPolicyWins() async {
        let response = await self.app().test.get("/embeddable")
        #expect(response.headers["content-security-policy"] == ["frame-ancestors https://partner.example"])
    }

    @Test func noneAddsNothing() async {
        let app = self.app()
        app.securityHeaders = .none
        let response = await app.test.get("/page")
        #expect(response.header("x-content-type-options") == nil && response.header("x-frame-options") == nil)
    }
}
