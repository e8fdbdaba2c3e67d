import Foundation
import ProcessTestSupport
import Testing

@testable import CarafeStreaming

/// The `Origin` check of WebSocket handshakes: over a real socket against `hello`'s `/ws`
/// (default options), and `WebSocketOrigins` on its own.
@Suite struct WebSocketOriginTests {
    /// The status line curl gets for a handshake with `headers` (the 101 is cut short by --max-time).
    static func handshake(_ port: Int, _ headers: [String]) throws -> String {
        let arguments = [
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
        #expect(try Self.handshake(port, ["Origin: http://127.0.0.1:\(port)", "Cookie: session=abc"]) == "HTTP/1.1 101 Switching Protocols")
        // No cookies: nothing to borrow, any origin. No Origin: not a browser.
        #expect(try Self.handshake(port, ["Origin: https://evil.example"]) == "HTTP/1.1 101 Switching Protocols")
        #expect(try Self.handshake(port, ["Cookie: session=abc"]) == "HTTP/1.1 101 Switching Protocols")
        #expect(server.process.isRunning)
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
        #expect(problem(.default, "https://example.com.evil.example", cookies: true)?.contains("'https://example.com.evil.example'") == true)
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
