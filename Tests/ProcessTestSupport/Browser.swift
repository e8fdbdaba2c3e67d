import Foundation

/// curl with its own cookie jar (a file, as curl keeps it): one browser, or one API client
/// keeping its session, for the tests that run an example app as a process. Forms are posted as
/// a browser posts them, and `submit` fetches the form first for its CSRF token.
public final class Browser {
    public let base: String
    /// The cookie jar file, for other curl processes of the same browser (`curl -b jar`).
    public let jar = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-jar-\(UUID().uuidString)").path

    public init(port: Int) { self.base = "http://127.0.0.1:\(port)" }
    deinit { try? FileManager.default.removeItem(atPath: self.jar) }

    /// A response as the browser got it.
    public struct Page {
        public let status: Int
        /// The header lines, `Name: value`, in order.
        public let headers: [String]
        public let body: String

        /// The values of every header `name` (any case), in order.
        public func header(_ name: String) -> [String] {
            self.headers.filter { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }

        /// The CSRF token of the page's forms.
        public var csrfToken: String? {
            self.body.firstMatch(of: #/name="csrf_token" value="([A-Za-z0-9_-]+)"/#).map { String($0.output.1) }
        }

        /// The body as a JSON object.
        public func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: Data(self.body.utf8)) as? [String: Any] else {
                throw NotJSON(body: self.body)
            }
            return object
        }

        public struct NotJSON: Error { public let body: String }
    }

    public func get(_ path: String, headers: [String] = []) throws -> Page {
        try self.request(headers.flatMap { ["-H", $0] } + [self.base + path])
    }

    /// Posts `fields` as a form, as a browser does.
    public func post(_ path: String, _ fields: [(String, String)], headers: [String] = []) throws -> Page {
        try self.request(fields.flatMap { ["--data-urlencode", "\($0.0)=\($0.1)"] } + headers.flatMap { ["-H", $0] } + [self.base + path])
    }

    /// Posts `json` with `Content-Type: application/json`.
    public func postJSON(_ path: String, _ json: String, headers: [String] = []) throws -> Page {
        try self.request(
            ["-H", "content-type: application/json", "--data-binary", json] + headers.flatMap { ["-H", $0] } + [self.base + path]
        )
    }

    /// Gets a form page, then posts `fields` with its CSRF token.
    public func submit(_ formPath: String, to path: String, _ fields: [(String, String)]) throws -> Page {
        let form = try self.get(formPath)
        guard let token = form.csrfToken else { throw NoToken(page: form.body) }
        return try self.post(path, fields + [("csrf_token", token)])
    }

    public struct NoToken: Error { public let page: String }

    /// Gets a form page, then posts `file` as the multipart field `field` with its CSRF token,
    /// as a browser's file input does; `filename` and `type` are what the client claims.
    public func upload(_ formPath: String, to path: String, field: String, file: URL, filename: String, type: String) throws -> Page {
        let form = try self.get(formPath)
        guard let token = form.csrfToken else { throw NoToken(page: form.body) }
        return try self.request([
            "-F", "csrf_token=\(token)", "-F", "\(field)=@\(file.path);filename=\"\(filename)\";type=\(type)", self.base + path,
        ])
    }

    /// Gets `path` into `file` (binary bodies); the status and headers.
    public func download(_ path: String, to file: URL, headers: [String] = []) throws -> (status: Int, headers: [String]) {
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
