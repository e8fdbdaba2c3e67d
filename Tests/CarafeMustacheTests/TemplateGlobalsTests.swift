import CarafeTesting
import Foundation
import Synchronization
import Testing

@testable import CarafeCore
@testable import CarafeMustache

/// Template globals: seen by every template without the handler passing them, computed only
/// when used, once per render; `url_for.NAME`.
@Suite struct TemplateGlobalsTests {
    @Test func globalsAndURLForReachEveryTemplate() async throws {
        let dir = try TemplateTests.directory([
            "page.mustache": "{{site}}|{{#user}}{{name}}{{/user}}|{{url_for.home}}|{{url_for.nowhere}}|{{site}}|{{title}}",
            "plain.mustache": "{{title}}",
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        struct User { let name: String }
        let computed = Mutex(0)
        let app = App()
        app.templateGlobals.set("site") { _ in
            computed.withLock { $0 += 1 }
            return "Blog"
        }
        app.templateGlobals.set("user") { req in req.query["as"].map { User(name: $0) } }
        app.templateGlobals.set("title") { _ in "global title" }
        try app.templates(directory: dir)
        app.get("/", name: "home") { req in try req.render("page", ["title": "mine"]) }
        app.get("/plain") { req in try req.render("plain") }
        #expect(await app.test.get("/?as=ann").text == "Blog|ann|/||Blog|mine")
        #expect(computed.withLock { $0 } == 1)  // once per render, though used twice
        #expect(await app.test.get("/plain").text == "global title")
        #expect(computed.withLock { $0 } == 1)  // not computed where not used
    }

    /// `url_for` of routes with parameters: from the value of the same name, or as mapped in
    /// the section; percent-encoded, `/` kept in a catch-all.
    @Test func urlForFillsParametersFromTheContext() async throws {
        let dir = try TemplateTests.directory([
            "links.mustache": """
            {{#posts}}<a href="{{url_for.user}}">{{username}}</a>{{/posts}}
            {{#url_for.post}}username=author id=post_id{{/url_for.post}}
            {{url_for.file}}|{{url_for.nowhere}}|{{url_for.home}}
            """
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = App()
        try app.templates(directory: dir)
        app.get("/", name: "home") { _ in "" }
        app.get("/u/:username", name: "user") { _ in "" }
        app.get("/u/:username/posts/:id", name: "post") { _ in "" }
        app.get("/files/*path", name: "file") { _ in "" }
        app.get("/links") { req in
            try req.render(
                "links",
                [
                    "posts": [["username": "ann"], ["username": "b&b <x>/é"]],
                    "author": "zoë", "post_id": 7, "path": "docs/a b/c.txt",
                ]
            )
        }
        let text = await app.test.get("/links").text
        #expect(
            text == """
                <a href="/u/ann">ann</a><a href="/u/b%26b%20%3Cx%3E%2F%C3%A9">b&amp;b &lt;x&gt;/é</a>
                /u/zo%C3%AB/posts/7
                /files/docs/a%20b/c.txt||/
                """
        )
    }
}
