import NIOCore

/// HTTP/2's limits and defences, with their defaults. `serve` overrides them with
/// `--http2-max-concurrent-streams`, `--http2-max-header-list-size`,
/// `--http2-initial-window-size`, `--http2-idle-timeout` and `--http2-max-resets` (see
/// `applying(_:)`).
///
/// - `maxConcurrentStreams` (100): advertised in SETTINGS; a client that opens more at once
///   breaks the protocol and NIOHTTP2 ends its connection (GOAWAY PROTOCOL_ERROR).
/// - `maxHeaderListSize` (16 KiB): advertised in SETTINGS; a larger header block is a
///   protocol error. (Each field is also held to `HTTPServerConfiguration.maxHeaderFieldSize`,
///   and their number to `maxHeaderFields`: 431 with a message, as on HTTP/1.1.)
/// - `maxResetStreams` per `resetWindow` (200 per 30 s): the rapid-reset attack
///   (CVE-2023-44487), a flood of streams opened and at once reset, is cut off past it with a
///   GOAWAY (ENHANCE_YOUR_CALM) and the connection closed.
/// - `idleTimeout` (60 s): a connection with no stream open for this long gets a GOAWAY and
///   is closed; zero: never.
/// - `windowSize` (64 KiB): the flow-control window of each stream and of the connection for
///   request bodies; a body's consumer that does not read holds the window shut.
/// - `webSockets` (true): SETTINGS_ENABLE_CONNECT_PROTOCOL is advertised and an extended
///   CONNECT with `:protocol: websocket` opens a WebSocket on its stream (RFC 8441), so that a
///   browser holding an h2 connection opens its WebSockets on it, not on a connection of
///   their own. Each counts against `maxConcurrentStreams` while it is open. False: not
///   advertised, and clients open WebSockets over HTTP/1.1.
public struct HTTP2Settings: Sendable, Hashable {
    public var maxConcurrentStreams: Int
    public var maxHeaderListSize: Int
    public var maxResetStreams: Int
    public var resetWindow: TimeAmount
    public var idleTimeout: TimeAmount
    public var windowSize: Int
    /// Serve h2c with prior knowledge on plain listeners besides HTTP/1.1 (`--h2c`).
    public var priorKnowledge: Bool
    public var webSockets: Bool

    public init(
        maxConcurrentStreams: Int = 100,
        maxHeaderListSize: Int = 16 * 1024,
        maxResetStreams: Int = 200,
        resetWindow: TimeAmount = .seconds(30),
        idleTimeout: TimeAmount = .seconds(60),
        windowSize: Int = 65535,
        priorKnowledge: Bool = false,
        webSockets: Bool = true
    ) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxHeaderListSize = maxHeaderListSize
        self.maxResetStreams = maxResetStreams
        self.resetWindow = resetWindow
        self.idleTimeout = idleTimeout
        self.windowSize = windowSize
        self.priorKnowledge = priorKnowledge
        self.webSockets = webSockets
    }
}
