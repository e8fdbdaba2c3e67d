import CarafeCore
import CarafeTesting
import Foundation
import ProcessTestSupport
import Testing

@testable import CarafeStreaming

/// The `Origin` check of WebSocket handshakes: over a real socket against `hello`'s `/ws`
/// (default options), and `WebSocketOrigins` on its own.
@Suite struct WebSocketOriginTests {
    /// The status line curl gets for a handshake with `headers` (the 101 is cut short by --max-time).
    static func handshake(_ port: Int, _ headers: [String]) throws -> String {
        let arguments =
            [
                "-s", "-i", "-N", "--max-time", "2", "--http1.1",
                "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
                "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ] + headers.flatMap { ["-H", $0] } + ["http://127.0.0.1:\(port)/ws"]
        let output = try runProcess("/usr/bin/curl", arguments).output
        return String(output.split(separator: "\r\n").first ?? "")
    }

    @Test func aCrossSiteHandshakeWithCookiesIsRefused() throws {
        let server = try ServerProcess(builtExecutable("hello"), ["serve", "--bind", "127.0.0.1:0"])
        let port = server.port
        // A foreign page, the user's cookies: cross-site WebSocket hijacking.
        #expect(try Self.handshake(port, ["Origin: https://evil.example", "Cookie: session=abc"]) == "HTTP/1.1 403 Forbidden")
        #expect(try Self.handshake(port, ["Origin: null", "Cookie: session=abc"]) == "HTTP/1.1 403 Forbidden")
        // The app's own page, with cookies.
        #expect(
            try Self.handshake(port, ["Origin: http://127.0.0.1:\(port)", "Cookie: session=abc"]) == "HTTP/1.1 101 Switching Protocols"
        )
        // No cookies: nothing to borrow, any origin. No Origin: not a browser.
        #expect(try Self.handshake(port, ["Origin: https://evil.example"]) == "HTTP/1.1 101 Switching Protocols")
        #expect(try Self.handshake(port, ["Cookie: session=abc"]) == "HTTP/1.1 101 Switching Protocols")
        #expect(server.process.isRunning)
    }

    /// What Python's `websockets` client got for a handshake from `origin` ("-": none) with `cookie`.
    static func python(_ port: Int, origin: String, cookie: String? = "session=abc") throws -> String {
        try runClientScript("websocket_origin.py", ["ws://127.0.0.1:\(port)/ws", origin] + (cookie.map { [$0] } ?? []))
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func theAppWideAllowedOriginsComeFromTheServeFlag() throws {
        let server = try ServerProcess(
            builtExecutable("hello"),
            ["serve", "--bind", "127.0.0.1:0", "--websocket-allowed-origins", "https://app.example, http://localhost:3000"]
        )
        let port = server.port
        // Listed origins, and the app's own, may open it with the user's cookies.
        #expect(try Self.python(port, origin: "https://app.example") == "101")
        #expect(try Self.python(port, origin: "http://localhost:3000") == "101")
        #expect(try Self.python(port, origin: "http://127.0.0.1:\(port)") == "101")
        // Any other page gets 403 naming its origin and what is allowed.
        let refused = try Self.python(port, origin: "https://evil.example")
        #expect(refused.hasPrefix("403 403 Forbidden: WebSocket connections from origin 'https://evil.example' are not allowed"))
        #expect(refused.contains("https://app.example"))
        #expect(try Self.python(port, origin: "http://localhost:3001").hasPrefix("403 "))
        // Without cookies there is nothing to borrow; without Origin it is not a browser: both open.
        #expect(try Self.python(port, origin: "https://evil.example", cookie: nil) == "101")
        #expect(try Self.python(port, origin: "-") == "101")
        #expect(server.process.isRunning)
    }

    @Test func theAllowedOriginsComeFromTheEnvironmentAndStarTurnsTheCheckOff() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["CARAFE_WEBSOCKET_ALLOWED_ORIGINS"] = "https://app.example"
        let listed = try ServerProcess(builtExecutable("hello"), ["serve", "--bind", "127.0.0.1:0"], environment: environment)
        #expect(try Self.python(listed.port, origin: "https://app.example") == "101")
        #expect(try Self.python(listed.port, origin: "https://evil.example").hasPrefix("403 "))
        let any = try ServerProcess(builtExecutable("hello"), ["serve", "--bind", "127.0.0.1:0", "--websocket-allowed-origins", "*"])
        #expect(try Self.python(any.port, origin: "https://evil.example") == "101")
    }

    @Test func anEntryThatIsNotAnOriginStopsTheServerNamingIt() throws {
        let result = try runProcess(
            builtExecutable("hello").path,
            ["serve", "--bind", "127.0.0.1:0", "--websocket-allowed-origins", "app.example"]
        )
        #expect(result.status != 0)
        #expect(result.output.contains("--websocket-allowed-origins: 'app.example' is not an origin"))
        #expect(throws: WebSocketOriginsError.self) { try WebSocketOrigins(parsing: "https://ok.example,ftp://x") }
        #expect(try WebSocketOrigins(parsing: " https://a.example ,http://b:8080").allowed == ["https://a.example", "http://b:8080"])
        #expect(try WebSocketOrigins(parsing: "*") == .any)
    }

    @Test func aRouteWithoutItsOwnOriginsUsesTheAppsAndARouteWithThemKeepsThem() async {
        let app = App()
        app.webSocketOrigins = WebSocketOrigins(["https://app.example"])
        app.websocket("/app") { _, _ in }
        app.websocket("/open", origins: .any) { _, _ in }
        let handshake: HTTPHeaders = [
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Cookie": "session=abc", "Host": "localhost",
        ]
        func status(_ path: String, origin: String) async -> HTTPStatus {
            var headers = handshake
            headers.add(name: "Origin", value: origin)
            return await app.test.get(path, headers: headers).status
        }
        #expect(await status("/app", origin: "https://app.example") == .switchingProtocols)
        #expect(await status("/app", origin: "https://evil.example") == .forbidden)
        #expect(await status("/open", origin: "https://evil.example") == .switchingProtocols)
    }

    @Test func theRulesOfEachScope() {
        let own = (scheme: "https", host: "example.com")
        func problem(_ origins: WebSocketOrigins, _ origin: String?, cookies: Bool) -> String? {
            origins.problem(origin: origin, hasCookies: cookies, scheme: own.scheme, host: own.host)
        }
        #expect(problem(.default, "https://example.com", cookies: true) == nil)
        #expect(problem(.default, "HTTPS://Example.com:443/", cookies: true) == nil)
        #expect(problem(.default, "http://example.com", cookies: true) != nil)  // another scheme is another origin
        #expect(problem(.default, "https://example.com:8443", cookies: true) != nil)
        #expect(
            problem(.default, "https://example.com.evil.example", cookies: true)?.contains("'https://example.com.evil.example'") == true
        )
        #expect(problem(.default, "https://evil.example", cookies: false) == nil)
        let listed = WebSocketOrigins(["https://admin.example.com", "http://localhost:3000"])
        #expect(problem(listed, "https://admin.example.com", cookies: true) == nil)
        #expect(problem(listed, "http://localhost:3000", cookies: true) == nil)
        #expect(problem(listed, "http://localhost:3001", cookies: true) != nil)
        let always = WebSocketOrigins(checking: .always)
        #expect(problem(always, nil, cookies: false) != nil)
        #expect(problem(always, "https://evil.example", cookies: false) != nil)
        #expect(problem(always, "https://example.com", cookies: false) == nil)
        #expect(problem(.any, "https://evil.example", cookies: true) == nil)
    }
}
