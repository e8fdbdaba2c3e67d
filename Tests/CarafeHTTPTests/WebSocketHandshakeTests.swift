import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// `WebSocketHandshake.problem(with:)`: what opens a WebSocket over HTTP/1.1 (RFC 6455) and over
/// HTTP/2 (RFC 8441, as CarafeHTTP2 hands the extended CONNECT on), and what each refusal says.
@Suite struct WebSocketHandshakeTests {
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="

    static func head(_ version: HTTPVersion, method: HTTPMethod = .GET, _ fields: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: "/ws", headers: HTTPHeaders(fields))
    }

    static let http1: [(String, String)] = [
        ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", key),
    ]

    @Test func anHTTP11OpeningRequestNeedsUpgradeConnectionVersionAndKey() {
        #expect(WebSocketHandshake.problem(with: Self.head(.http1_1, Self.http1)) == nil)
        let plain = WebSocketHandshake.problem(with: Self.head(.http1_1, []))
        #expect(plain?.status == .upgradeRequired)
        #expect(plain?.headers["upgrade"] == ["websocket"])
        let noKey = WebSocketHandshake.problem(with: Self.head(.http1_1, Array(Self.http1.dropLast())))
        #expect(noKey?.status == .badRequest)
        #expect(noKey?.message.contains("Sec-WebSocket-Key") == true)
        let old = WebSocketHandshake.problem(with: Self.head(.http1_0, Self.http1))
        #expect(old?.status == .badRequest)
        #expect(old?.message.contains("not HTTP/1.0") == true)
        #expect(WebSocketHandshake.problem(with: Self.head(.http1_1, method: .POST, Self.http1))?.status == .badRequest)
    }

    @Test func overHTTP2TheExtendedConnectNeedsNoKeyAndIsTheOnlyWayIn() {
        let http2 = HTTPVersion(major: 2, minor: 0)
        let connect = [("upgrade", "websocket"), ("sec-websocket-version", "13")]
        #expect(WebSocketHandshake.problem(with: Self.head(http2, connect)) == nil)
        #expect(WebSocketHandshake.isExtendedConnect(Self.head(http2, connect)))
        #expect(!WebSocketHandshake.isExtendedConnect(Self.head(.http1_1, Self.http1)))
        // A plain GET over HTTP/2: 400 saying how a WebSocket opens there (426 would mean nothing).
        let plain = WebSocketHandshake.problem(with: Self.head(http2, []))
        #expect(plain?.status == .badRequest)
        #expect(plain?.message.contains("extended CONNECT (RFC 8441") == true)
        let version = WebSocketHandshake.problem(with: Self.head(http2, [("upgrade", "websocket"), ("sec-websocket-version", "8")]))
        #expect(version?.status == .upgradeRequired)
        #expect(version?.headers["sec-websocket-version"] == ["13"])
    }
}
