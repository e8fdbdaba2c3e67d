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
}
