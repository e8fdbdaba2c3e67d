import Foundation
import ProcessTestSupport
import Testing

extension TLSTests {
    /// What `Tests/Clients/https_browser.py` saw in headless Chromium.
    struct BrowserSaw: Decodable {
        let loaded: Bool
        let text: String?
        let `protocol`: String?
        let events: [String]
        let echo: String?
        let errors: [String]
        let published: String?
        let publishProtocol: [String]
    }

    @Test func chromiumLoadsAnHTTPSPageOverH2WithEventSourceAndAWSSWebSocketOverH2() throws {
        let certificate = try Certificate()
        let log = certificate.directory.appendingPathComponent("access.log").path
        let server = try Self.startServer([
            "--bind", "127.0.0.1:0", "--certfile", certificate.cert, "--keyfile", certificate.key, "--access-logfile", log,
        ])
        let printed = try runClientScript("https_browser.py", ["https://127.0.0.1:\(server.port)", certificate.cert])
        let saw = try JSONDecoder().decode(BrowserSaw.self, from: Data(printed.utf8))
        #expect(saw.loaded, "\(printed)")
        #expect(saw.text == "Hello, World!", "\(printed)")
        #expect(saw.protocol == "h2", "\(printed)")
        #expect(saw.published == "1", "\(printed)")  // one subscriber: the page's EventSource
        #expect(saw.events == ["over h2"], "\(printed)")
        #expect(saw.publishProtocol == ["h2"], "\(printed)")
        #expect(saw.echo == "over wss", "\(printed)")
        #expect(saw.errors.isEmpty, "\(printed)")
        // The server advertises RFC 8441: Chromium opened the WebSocket on the page's h2
        // connection (an extended CONNECT, logged as its GET with the 200 that accepted it).
        #expect(WebSocketOverHTTP2Tests.logged(#""GET /ws HTTP/2.0" 200 -"#, in: log), "\(printed)")
    }
}
