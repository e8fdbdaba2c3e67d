import CarafeTesting
import Foundation
import NIOHTTP1
import Testing

@testable import CarafeCore

@Suite struct AccessLogTests {
    /// 14/Nov/2023:22:13:20 +0000
    private let now = 1_700_000_000

    /// The access log line for a request as the server would have received it, and `response`.
    private func line(
        _ uri: String,
        method: HTTPMethod = .GET,
        version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = [:],
        from address: String? = "192.0.2.7",
        response: Response = Response(status: .ok, text: "Hello, World!"),
        format: AccessLogFormat = .default,
        took elapsed: Duration = .zero
    ) throws -> String {
        let head = HTTPRequestHead(version: version, method: method, uri: uri, headers: headers)
        let remote = try address.map { try SocketAddress(ipAddress: $0, port: 50000) }
        let request = Request(HTTPServerRequest(head: head, remoteAddress: remote), services: App().services)
        return AccessLog.line(
            request,
            response,
            bytes: response.body.knownLength ?? 0,
            format: format,
            now: self.now,
            end: request.startedAt + elapsed
        )
    }

    // MARK: Format

    @Test func aLineIsInApacheCombinedFormat() throws {
        let line = try self.line("/users/1?x=1", headers: ["referer": "https://example.com/", "user-agent": "curl/8.0"])
        #expect(
            line == #"192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] "GET /users/1?x=1 HTTP/1.1" 200 13 "https://example.com/" "curl/8.0""#
                + "\n"
        )
    }

    @Test func absentValuesAreDashes() throws {
        let line = try self.line("/form", method: .POST, version: .http1_0, from: nil, response: Response(status: .noContent))
        #expect(line == #"- - - [14/Nov/2023:22:13:20 +0000] "POST /form HTTP/1.0" 204 - "-" "-""# + "\n")
    }

    // MARK: Atoms (--access-logformat)

    /// Every atom, for a request that took 1.5023 s and has every value set.
    @Test(arguments: [
        ("%(h)s", "192.0.2.7"), ("%(l)s", "-"), ("%(u)s", "-"), ("%(t)s", "[14/Nov/2023:22:13:20 +0000]"),
        ("%(r)s", "POST /caf%C3%A9/x?a=1&b=2 HTTP/1.0"), ("%(m)s", "POST"), ("%(U)s", "/café/x"), ("%(q)s", "a=1&b=2"),
        ("%(H)s", "HTTP/1.0"), ("%(s)s", "201"), ("%(B)s", "7"), ("%(b)s", "7"), ("%(f)s", "https://example.com/"),
        ("%(a)s", "curl/8.0"), ("%(T)s", "1"), ("%(M)s", "1502"), ("%(D)s", "1502300"), ("%(p)s", "<\(getpid())>"),
        ("%({X-Request-ID}i)s", "r-42"), ("%({x-served-by}o)s", "w1"), ("%({x-absent}i)s", "-"), ("%({x-absent}o)s", "-"),
        ("100%% [%(s)s]", "100% [201]"),
    ])
    func eachAtomSaysWhatGunicornsDoes(format: String, expected: String) throws {
        let line = try self.line(
            "/caf%C3%A9/x?a=1&b=2",
            method: .POST,
            version: .http1_0,
            headers: ["referer": "https://example.com/", "user-agent": "curl/8.0", "x-request-id": "r-42"],
            response: Response(status: .created, headers: ["x-served-by": "w1"], text: "created"),
            format: try AccessLogFormat(format),
            took: .microseconds(1_502_300)
        )
        #expect(line == expected + "\n")
    }

    @Test func anEmptyBodyIsZeroForBAndADashForLowercaseB() throws {
        let line = try self.line("/", response: Response(status: .noContent), format: try AccessLogFormat("%(B)s %(b)s"))
        #expect(line == "0 -\n")
    }

    @Test func workersAppendTheirPidToTheDefault() throws {
        let line = try self.line("/", format: .defaultWithPID)
        #expect(line == #"192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 13 "-" "-" <\#(getpid())>"# + "\n")
    }

    // MARK: Escaping

    @Test func quotesAndBackslashesAreEscaped() throws {
        let line = try self.line("/a\"b", headers: ["user-agent": #"say "hi" \ bye"#])
        #expect(line == #"192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] "GET /a\"b HTTP/1.1" 200 13 "-" "say \"hi\" \\ bye""# + "\n")
    }

    @Test func aClientCannotForgeALine() throws {
        let forged = "x\" 200 1 \"-\" \"-\"\n10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] \"GET /admin HTTP/1.1\" 200 1 \"-\" \"x"
        let line = try self.line("/", headers: ["user-agent": forged, "referer": "r\r\nfake"])
        #expect(line.filter(\.isNewline).count == 1)
        #expect(
            line.hasSuffix(
                #""r\x0d\x0afake" "x\" 200 1 \"-\" \"-\"\x0a10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] \"GET /admin HTTP/1.1\" 200 1 \"-\" \"x""#
                    + "\n"
            )
        )
    }

    @Test func controlCharactersAreEscaped() throws {
        let line = try self.line("/", headers: ["user-agent": "a\u{1B}[31mred\u{7F}\tb"])
        #expect(line.hasSuffix(#" "a\x1b[31mred\x7f\x09b""# + "\n"))
    }

    @Test func c1ControlCharactersAreEscapedToo() throws {
        // U+0085 (NEL) ends a line for many log tools (Python's splitlines, for one).
        let line = try self.line("/", headers: ["user-agent": "a\u{85}b\u{9B}c"])
        let unescaped = line.dropLast().unicodeScalars.filter { $0.properties.generalCategory == .control }
        #expect(unescaped.map { "U+" + String($0.value, radix: 16, uppercase: true) } == [])
    }

    @Test func everyAtomIsEscapedButTheFormatsOwnTextIsNot() throws {
        let line = try self.line(
            "/a%0Ab?x=\"y",
            headers: ["x-note": "say \"hi\"\r\n"],
            format: try AccessLogFormat(#""%(U)s" "%(q)s" "%({x-note}i)s""#)
        )
        #expect(line == #""/a\x0ab" "x=\"y" "say \"hi\"\x0d\x0a""# + "\n")
    }

    @Test func textBeyondASCIIIsKept() throws {
        let line = try self.line("/caf%C3%A9", headers: ["user-agent": "Navigateur é ✓"])
        #expect(line.hasSuffix(#""GET /caf%C3%A9 HTTP/1.1" 200 13 "-" "Navigateur é ✓""# + "\n"))
    }

    // MARK: Writing

    @Test func theAppWritesOneLinePerRequestToTheFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-access-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let app = App()
        app.accessLog = try AccessLog(path: path)
        app.get("/hello") { _ in "hello" }

        _ = await app.test.get("/hello?x=1", headers: ["user-agent": "tester"])
        _ = await app.test.get("/missing")

        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3)  // two lines, each ending with "\n"
        #expect(lines.first?.hasPrefix("127.0.0.1 - - [") == true)
        #expect(lines.first?.hasSuffix(#"] "GET /hello?x=1 HTTP/1.1" 200 5 "-" "tester""#) == true)
        #expect(lines.dropFirst().first?.hasSuffix(#"] "GET /missing HTTP/1.1" 404 38 "-" "-""#) == true)
    }

    /// The line is written when the server says the response ended, not when the handler
    /// returned: so a stream whose producer never started (the client left first) is logged too.
    @Test func aStreamWhoseProducerNeverStartsIsLoggedWhenTheResponseEnds() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-access-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let app = App()
        app.accessLog = try AccessLog(path: path)
        app.get("/feed") { _ in Response.stream { writer in try await writer.write(ByteBuffer(string: "never")) } }
        let completion = ResponseCompletion()
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/feed")
        _ = await app.respond(to: HTTPServerRequest(head: head, completion: completion))
        #expect(try String(contentsOfFile: path, encoding: .utf8).isEmpty)  // not ended yet

        completion.finish(ResponseSummary(bytes: 0, duration: .milliseconds(3), complete: false))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(#""GET /feed HTTP/1.1" 200 "#))
        #expect(text.split(separator: "\n").count == 1)
    }

    /// A handler may read the request from child tasks: its lazily parsed parts are behind a lock.
    @Test func childTasksReadTheSameLazilyParsedRequest() async {
        let app = App()
        app.post("/parallel") { req in
            let seen = await withTaskGroup(of: String.self, returning: Set<String>.self) { group in
                for _ in 0..<32 {
                    group.addTask { "\(req.query["q"] ?? "")|\(req.cookies["c"] ?? "")|\(req.form["f"] ?? "")" }
                }
                return await group.reduce(into: []) { $0.insert($1) }
            }
            return seen.sorted().joined(separator: ",")
        }
        let response = await app.test.request(
            .POST,
            "/parallel?q=1",
            headers: ["cookie": "c=2", "content-type": "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: "f=3")
        )
        #expect(response.text == "1|2|3")
    }

    @Test func anUnwritablePathIsAnError() {
        let error = #expect(throws: LogFileError.self) { try AccessLog(path: "/nonexistent-dir/access.log") }
        #expect(error?.description == "cannot open access log '/nonexistent-dir/access.log': No such file or directory")
    }
}
