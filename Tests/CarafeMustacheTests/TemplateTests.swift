import CarafeMustache
import CarafeTesting
import Foundation
import Logging
import Synchronization
import Testing

@testable import CarafeCore

/// Templates from a directory, rendered through the test client: escaping, partials, layouts,
/// and errors that say which template is wrong.
@Suite struct TemplateTests {
    /// A temporary directory holding `files` (name → text), removed by the caller.
    static func directory(_ files: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-templates-\(UUID().uuidString)")
        for (name, text) in files {
            let file = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        return root.path
    }

    static let site = [
        "layout.mustache": "<html><title>{{title}}</title><body>{{$body}}empty{{/body}}</body></html>",
        "timeline.mustache": "{{<layout}}{{$body}}<ul>{{#posts}}{{>partials/post}}{{/posts}}</ul>{{/body}}{{/layout}}",
        "partials/post.mustache": "<li>{{author}}: {{text}}</li>",
        "raw.mustache": "{{{html}}}|{{html}}",
    ]

    @Test func anErrorRaisedBeforeAnyHookRendersItsPageToo() async throws {
        let dir = try Self.directory(["error.mustache": "<h1>{{status}}</h1>"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = App()
        app.maxBodySize = 4
        app.before { _ in throw HTTPError(.badRequest, "refused by the first hook") }
        app.errorHandler(.badRequest) { req, error in try req.render("error", ["status": "\(error.status.code)"]) }
        try app.templates(directory: dir)  // after the hook that refuses: templates are app-wide
        app.post("/form") { _ in "ok" }
        let response = await app.test.post("/form", "1")
        #expect(response.status == .badRequest)
        #expect(response.text == "<h1>400</h1>")
    }

    @Test func valuesAreEscapedAndTripleBracesAreNot() async throws {
        let dir = try Self.directory(Self.site)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = App()
        try app.templates(directory: dir)
        app.get("/raw") { req in try req.render("raw", ["html": "<b>\"x\" & 'y'</b>"]) }
        let response = await app.test.get("/raw")
        #expect(response.status == .ok)
        #expect(response.headers.first(name: "content-type") == "text/html; charset=utf-8")
        #expect(response.text == "<b>\"x\" & 'y'</b>|&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;")
    }

    @Test func layoutsAndPartialsInSubdirectories() async throws {
        struct Post {
            let author: String
            let text: String
        }
        let dir = try Self.directory(Self.site)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let app = App()
        let templates = try app.templates(directory: dir)
        #expect(templates.names == ["layout", "partials/post", "raw", "timeline"])
        app.get("/") { req in
            try req.render(
                "timeline",
                ["title": "Home <1>", "posts": [Post(author: "ann", text: "hi <there>"), Post(author: "bob", text: "yo")]] as [String: Any]
            )
        }
        let response = await app.test.get("/")
        #expect(
            response.text
                == "<html><title>Home &lt;1&gt;</title><body><ul><li>ann: hi &lt;there&gt;</li><li>bob: yo</li></ul></body></html>"
        )
    }

    @Test func anUnknownTemplateIs500WithALogLineNamingIt() async throws {
        let dir = try Self.directory(Self.site)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let logs = LogCapture()
        let app = App()
        app.logger = logs.logger
        try app.templates(directory: dir)
        app.get("/missing") { req in try req.render("timelime") }
        let response = await app.test.get("/missing")
        #expect(response.status == .internalServerError)
        #expect(!response.text.contains("timelime"), "the details stay in the log")
        let line = try #require(logs.lines.first { $0.contains("GET /missing") }, "\(logs.lines)")
        #expect(
            line.hasSuffix(
                "unhandled error in GET /missing: no template 'timelime' in \(dir) (it has: layout, partials/post, raw, timeline)"
            ),
            "\(line)"
        )
    }

    @Test func renderWithoutTemplatesIsA500SayingWhatToCall() async throws {
        let logs = LogCapture()
        let app = App()
        app.logger = logs.logger
        app.get("/") { req in try req.render("index") }
        #expect(await app.test.get("/").status == .internalServerError)
        #expect(logs.lines.contains { $0.contains("call `try app.templates(directory:)`") }, "\(logs.lines)")
    }

    @Test func aSyntaxErrorStopsLoadingWithFileLineAndColumn() throws {
        let dir = try Self.directory(["ok.mustache": "fine", "bad.mustache": "line one\n<p>{{#posts}}{{text}}{{/post}}</p>\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = #expect(throws: TemplateError.self) { try App().templates(directory: dir) }
        #expect(error?.description.hasPrefix("\(dir)/bad.mustache:2:") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("sectionCloseNameIncorrect") == true, "\(error?.description ?? "")")
    }

    @Test func aPartialThatIsNoTemplateStopsLoading() throws {
        let dir = try Self.directory(["page.mustache": "{{> header}}<p>{{>  footer }}</p>", "header.mustache": "h"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let error = #expect(throws: TemplateError.self) { try App().templates(directory: dir) }
        #expect(error?.description == "\(dir)/page.mustache includes 'footer', which is no template in \(dir)")
    }

    @Test func aMissingDirectoryIsAnError() {
        let error = #expect(throws: TemplateError.self) { try App().templates(directory: "/nonexistent/templates") }
        #expect(error?.description == "the template directory /nonexistent/templates does not exist")
    }

    @Test func reloadShowsEditsWithoutARestart() async throws {
        let dir = try Self.directory(["page.mustache": "one {{x}}"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reloading = try Templates(directory: dir, reload: true)
        let fixed = try Templates(directory: dir)
        #expect(try reloading.render("page", ["x": "1"]) == "one 1")
        try "two {{x}}".write(toFile: dir + "/page.mustache", atomically: true, encoding: .utf8)
        #expect(try reloading.render("page", ["x": "1"]) == "two 1")
        #expect(try fixed.render("page", ["x": "1"]) == "one 1")
    }
}

/// Collects an app's log lines (message and metadata) for assertions.
final class LogCapture: Sendable {
    private let stored = Mutex<[String]>([])

    var lines: [String] { self.stored.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(capture: self) }
    }

    func append(_ line: String) { self.stored.withLock { $0.append(line) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            self.capture.append("\(event.level) \(event.message)")
        }
    }
}
