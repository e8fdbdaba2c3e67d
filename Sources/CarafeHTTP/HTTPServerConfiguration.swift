import NIOCore

/// Limits and timeouts of the HTTP/1.1 server.
///
/// The defaults follow Gunicorn's: a request line of at most 4094 bytes, at most 100 header
/// fields of at most 8190 bytes each, and a 5 s keep-alive. Body sizes are the responder's to
/// limit (`RequestBody.collect(upTo:)`).
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
    /// Value of the `Server` response header; nil sends none.
    public var serverName: String?
    /// Number of event loops (threads serving connections). Defaults to `usableCores()`.
    public var eventLoops: Int
    /// After this many requests the server stops accepting and shuts down gracefully, so that a
    /// supervisor can replace the process (Gunicorn's `max_requests`). Nil: no limit.
    public var maxRequests: Int?
    /// Most connections open at once. At the limit the server stops accepting (new connections
    /// wait in the listen backlog) until one closes (Gunicorn's `worker_connections`). Nil: no limit.
    public var maxConnections: Int?
    /// Read a PROXY protocol header (version 1 or 2) at the start of every connection, from a
    /// TCP load balancer, and take the client's address from it (`--proxy-protocol`). Nil: off.
    /// The value is the peers allowed to send one (`--proxy-allow-from`); connections from
    /// others, and connections without a valid header, are closed.
    public var proxyProtocol: TrustedAddresses?
    /// TLS for the listeners of `tlsBinds` (CarafeTLS fills it: `--certfile`, `--keyfile`).
    /// Nil: every listener is plain.
    public var tls: (any HTTPConnectionSecurity)? = nil
    /// Which listeners speak TLS, as indices into `bind` (`--bind https://HOST:PORT`; with
    /// `--certfile` and no `https://` bind, all of them). Only with `tls` set.
    public var tlsBinds: Set<Int> = []
    /// HTTP/2 (CarafeHTTP2 fills it): `h2` offered in ALPN on TLS listeners, and prior-knowledge
    /// h2c on plain ones if it says so (`--h2c`). Nil: HTTP/1.1 only.
    public var http2: (any HTTPConnectionHTTP2)? = nil
    /// No request body byte for this long: 408 (or, once a response started, a close). It is
    /// also the grace period before `bodyMinRate` applies (`--body-timeout`, default 20 s;
    /// nil: none).
    public var bodyTimeout: TimeAmount?
    /// After `bodyTimeout`, a request body must keep arriving at this many bytes a second on
    /// average, or the request gets 408 (`--body-min-rate`, default 500, Apache's
    /// `RequestReadTimeout body=20,MinRate=500`): a client that drips a byte every few seconds
    /// holds its connection for 20 s, not forever. Time the handler spends not reading is not
    /// counted against the client. Nil: no minimum.
    public var bodyMinRate: Int?
    /// The socket not writable for this long (the client stopped reading a response): the
    /// connection closes and writers throw (`--write-timeout`, default 60 s, nginx's `send_timeout`).
    public var writeTimeout: TimeAmount?
    /// A handler that has not started its response this long after the request head is
    /// cancelled and the request answered 503 with `Retry-After` (`--handler-timeout`; nil,
    /// the default: no limit).
    public var handlerTimeout: TimeAmount?
    /// After a response that did not read its request's body, up to this many remaining bytes
    /// are read and dropped so that the connection is kept (nginx's lingering discard); a
    /// larger remainder closes it. Default 64 KiB.
    public var maxDiscardedBody: Int
    /// Connections the kernel queues on a listening socket before any is accepted (`--backlog`;
    /// Gunicorn's 2048 is capped by `net.core.somaxconn`). 1024 by default.
    public var backlog: Int32 = 1024

    /// The limits `HTTPConnectionStateMachine` enforces.
    var connectionTimeouts: HTTPConnectionStateMachine.Timeouts {
        .init(
            bodyTimeout: self.bodyTimeout,
            bodyMinRate: self.bodyMinRate,
            writeTimeout: self.writeTimeout,
            handlerTimeout: self.handlerTimeout,
            maxDiscardedBody: self.maxDiscardedBody
        )
    }

    public init(
        bind: [BindAddress] = [.hostPort(host: "127.0.0.1", port: 8000)],
        keepAliveTimeout: TimeAmount = .seconds(5),
        requestHeaderTimeout: TimeAmount = .seconds(10),
        gracefulTimeout: TimeAmount = .seconds(30),
        maxRequestLine: Int = 4094,
        maxHeaderFields: Int = 100,
        maxHeaderFieldSize: Int = 8190,
        serverName: String? = "Carafe",
        eventLoops: Int = usableCores(),
        maxRequests: Int? = nil,
        maxConnections: Int? = nil,
        proxyProtocol: TrustedAddresses? = nil,
        bodyTimeout: TimeAmount? = .seconds(20),
        bodyMinRate: Int? = 500,
        writeTimeout: TimeAmount? = .seconds(60),
        handlerTimeout: TimeAmount? = nil,
        maxDiscardedBody: Int = 64 * 1024
    ) {
        self.bind = bind
        self.keepAliveTimeout = keepAliveTimeout
        self.requestHeaderTimeout = requestHeaderTimeout
        self.gracefulTimeout = gracefulTimeout
        self.maxRequestLine = maxRequestLine
        self.maxHeaderFields = maxHeaderFields
        self.maxHeaderFieldSize = maxHeaderFieldSize
        self.serverName = serverName
        self.eventLoops = eventLoops
        self.maxRequests = maxRequests
        self.maxConnections = maxConnections
        self.proxyProtocol = proxyProtocol
        self.bodyTimeout = bodyTimeout
        self.bodyMinRate = bodyMinRate
        self.writeTimeout = writeTimeout
        self.handlerTimeout = handlerTimeout
        self.maxDiscardedBody = maxDiscardedBody
    }
}
