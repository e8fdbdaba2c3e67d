import Foundation
import ProcessTestSupport

/// curl with its own cookie jar: one browser, or one API client keeping its session.
final class Browser {
    let base: String
    let jar = FileManager.default.temporaryDirectory.appendingPathComponent("microblog-jar-\(UUID().uuidString)").path

    init(port: Int) { self.base = "http://127.0.0.1:\(port)" }
    deinit { try? FileManager.default.removeItem(atPath: self.jar) }

    struct Page {
        let status: Int
        let headers: [String]
        let body: String

        func header(_ name: String) -> [String] {
            self.headers.filter { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }

        /// The CSRF token of the page's forms.
        var csrfToken: String? {
            self.body.firstMatch(of: #/name="csrf_token" value="([A-Za-z0-9_-]+)"/#).map { String($0.output.1) }
        }

        /// The body as JSON.
        func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: Data(self.body.utf8)) as? [String: Any] else {
                throw NotJSON(body: self.body)
            }
            return object
        }

        struct NotJSON: Error { let body: String }
    }

    func get(_ path: String, headers: [String] = []) throws -> Page {
        try self.request(headers.flatMap { ["-H", $0] } + [self.base + path])
    }

    /// Posts `fields` as a form, as a browser does.
    func post(_ path: String, _ fields: [(String, String)], headers: [String] = []) throws -> Page {
        try self.request(fields.flatMap { ["--data-urlencode", "\($0.0)=\($0.1)"] } + headers.flatMap { ["-H", $0] } + [self.base + path])
    }

    /// Posts `json` with `Content-Type: application/json`.
    func postJSON(_ path: String, _ json: String, headers: [String] = []) throws -> Page {
        try self.request(
            ["-H", "content-type: application/json", "--data-binary", json] + headers.flatMap { ["-H", $0] } + [self.base + path]
        )
    }

    /// Gets a form page, then posts `fields` with its CSRF token.
    func submit(_ formPath: String, to path: String, _ fields: [(String, String)]) throws -> Page {
        let form = try self.get(formPath)
        guard let token = form.csrfToken else { throw NoToken(page: form.body) }
        return try self.post(path, fields + [("csrf_token", token)])
    }

    struct NoToken: Error { let page: String }

    func signUp(_ name: String, password: String = "correct horse") throws -> Page {
        try self.submit("/signup", to: "/signup", [("username", name), ("password", password)])
    }

    /// Writes a post from the home page's form.
    func write(_ body: String) throws -> Page {
        try self.submit("/", to: "/post", [("body", body)])
    }

    /// Gets a form page, then posts `file` as the multipart field `field` with its CSRF token,
    /// as a browser's file input does; `filename` and `type` are what the client claims.
    func upload(_ formPath: String, to path: String, field: String, file: URL, filename: String, type: String) throws -> Page {
        let form = try self.get(formPath)
        guard let token = form.csrfToken else { throw NoToken(page: form.body) }
        return try self.request([
            "-F", "csrf_token=\(token)", "-F", "\(field)=@\(file.path);filename=\"\(filename)\";type=\(type)", self.base + path,
        ])
    }

    /// Gets `path` into `file` (binary bodies); the status and headers.
    func download(_ path: String, to file: URL, headers: [String] = []) throws -> (status: Int, headers: [String]) {
        let raw = try curl(
            ["-s", "-D", "-", "-o", file.path, "-b", self.jar, "-c", self.jar] + headers.flatMap { ["-H", $0] } + [self.base + path]
        )
        let head = raw.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        return (status, Array(head.dropFirst()))
    }

    private func request(_ arguments: [String]) throws -> Page {
        var raw = try curl(["-i", "-b", self.jar, "-c", self.jar] + arguments)
        // curl's `Expect: 100-continue` for a large body: the interim response comes first.
        while raw.hasPrefix("HTTP/1.1 100"), let end = raw.range(of: "\r\n\r\n") {
            raw = String(raw[end.upperBound...])
        }
        guard let split = raw.range(of: "\r\n\r\n") else { return Page(status: 0, headers: [], body: raw) }
        let head = raw[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        return Page(status: status, headers: Array(head.dropFirst()), body: String(raw[split.upperBound...]))
    }
}

/// `curl -N` reading an event stream in the background, with a browser's cookies.
final class EventStreamReader {
    let process = Process()
    let output = PipeCollector()

    init(_ url: String, cookies jar: String) throws {
        self.process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        self.process.arguments = ["-s", "-N", "--max-time", "60", "-b", jar, url]
        self.process.standardOutput = self.output.pipe
        self.process.standardError = FileHandle.nullDevice
        try self.process.run()
    }

    deinit { if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) } }

    /// Waits until the stream holds `text`; false after `timeout` seconds.
    func waitFor(_ text: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if self.output.text.contains(text) { return true }
            usleep(20_000)
        }
        return false
    }
}
