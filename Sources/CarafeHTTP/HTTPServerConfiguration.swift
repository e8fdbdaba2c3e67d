import NIOCore

/// Limits and timeouts of the HTTP/1.1 server.
///
/// The defaults follow Gunicorn's: a request line of at most 4094 bytes, at most 100 header
/// fields of at most 8190 bytes each, a 5 s keep-alive, and a 1 MiB request body.
public struct HTTPServerConfiguration: Sendable {
    /// Where to listen.
    public var bind: [BindAddress]
    /// How long an idle keep-alive connection stays open waiting for its next request.
    public var keepAliveTimeout: TimeAmount
    /// How long a client may take to send a complete request head, from its first byte.
    public var requestHeaderTimeout: TimeAmount
    /// How long in-flight requests may run on after a graceful shutdown begins.
    public var gracefulTimeout: TimeAmount
    /// Longest request line (method, target and version) answered; longer gets 414.
    public var maxRequestLine: Int
    /// Most header fields in one request; more gets 431.
    public var maxHeaderFields: Int
    /// Longest single header field (name, colon, value); longer gets 431.
    public var maxHeaderFieldSize: Int
    /// Largest request body collected for a handler; larger gets 413.
    public var maxBodySize: Int
    /// Value of the `Server` response header; nil sends none.
    public var serverName: String?
    /// Number of event loops (threads serving connections). Defaults to `usableCores()`.
    public var eventLoops: Int

    public init(
        bind: [BindAddress] = [.hostPort(host: "127.0.0.1", port: 8000)],
        keepAliveTimeout: TimeAmount = .seconds(5),
        requestHeaderTimeout: TimeAmount = .seconds(10),
        gracefulTimeout: TimeAmount = .seconds(30),
        maxRequestLine: Int = 4094,
        maxHeaderFields: Int = 100,
        maxHeaderFieldSize: Int = 8190,
        maxBodySize: Int = 1 << 20,
        serverName: String? = "Carafe",
        eventLoops: Int = usableCores()
    ) {
        self.bind = bind
        self.keepAliveTimeout = keepAliveTimeout
        self.requestHeaderTimeout = requestHeaderTimeout
        self.gracefulTimeout = gracefulTimeout
        self.maxRequestLine = maxRequestLine
        self.maxHeaderFields = maxHeaderFields
        self.maxHeaderFieldSize = maxHeaderFieldSize
        self.maxBodySize = maxBodySize
        self.serverName = serverName
        self.eventLoops = eventLoops
    }
}
