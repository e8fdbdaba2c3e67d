import ArgumentParser
import CarafeHTTP
import CarafeSupervisor
import Dispatch
import Foundation
import Synchronization

/// Options of `serve`, named as Gunicorn names them where it has them.
struct ServeOptions: ParsableArguments {
    @Option(
        name: [.short, .long],
        help:
            "Where to listen: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N, each optionally prefixed https:// (TLS) or http:// (plain); repeatable. (default: systemd's LISTEN_FDS if set, else 127.0.0.1:8000)"
    )
    var bind: [String] = []

    @Option(
        help: ArgumentHelp(
            "TLS: the certificate chain (PEM). With no https:// bind, every bind speaks TLS. Needs CarafeTLS.",
            valueName: "file"
        )
    )
    var certfile: String?

    @Option(help: ArgumentHelp("TLS: the certificate's private key (PEM).", valueName: "file"))
    var keyfile: String?

    @Option(help: ArgumentHelp("TLS: CA certificates (PEM) that client certificates must chain to.", valueName: "file"))
    var caCerts: String?

    @Option(help: ArgumentHelp("TLS: client certificates: none, optional or required (or Gunicorn's 0, 1, 2).", valueName: "reqs"))
    var certReqs = "none"

    @Option(help: ArgumentHelp("TLS 1.2 ciphers, an OpenSSL cipher list. (default: NIOSSL's)", valueName: "list"))
    var ciphers: String?

    @Flag(help: "Serve HTTP/2 with prior knowledge (h2c) on plain binds, besides HTTP/1.1. Needs CarafeHTTP2.")
    var h2c = false

    @Option(
        help: ArgumentHelp(
            "HTTP/2: streams a client may have open at once, advertised in SETTINGS; more are refused (REFUSED_STREAM). (default: 100)",
            valueName: "n"
        )
    )
    var http2MaxConcurrentStreams: Int?

    @Option(
        help: ArgumentHelp(
            "HTTP/2: bytes of a request's header list, advertised in SETTINGS; a larger one is refused. (default: 16384)",
            valueName: "bytes"
        )
    )
    var http2MaxHeaderListSize: Int?

    @Option(
        help: ArgumentHelp(
            "HTTP/2: the flow-control window of each stream for request bodies, advertised in SETTINGS, and of the connection. (default: 65535)",
            valueName: "bytes"
        )
    )
    var http2InitialWindowSize: Int?

    @Option(
        help: ArgumentHelp(
            "HTTP/2: seconds a connection with no stream open stays before a GOAWAY closes it; 0 never. (default: 60)",
            valueName: "seconds"
        )
    )
    var http2IdleTimeout: Int?

    @Option(
        help: ArgumentHelp(
            "HTTP/2: streams a client may reset within 30 seconds; past it the connection gets GOAWAY (ENHANCE_YOUR_CALM) and is closed (the rapid-reset attack, CVE-2023-44487). (default: 200)",
            valueName: "n"
        )
    )
    var http2MaxResets: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .notice

    @Option(help: "Write an access log line per request to this file ('-' for standard output).")
    var accessLogfile: String?

    @Option(
        help: ArgumentHelp(
            #"The access log's lines, in Gunicorn's atoms: %(h)s %(t)s "%(r)s" %(s)s %(D)s %({x-request-id}o)s …, or json: one JSON object a line (default: Apache's combined format; with --workers, followed by %(p)s, the pid of the worker that served)"#,
            valueName: "format"
        ),
        transform: { try AccessLogFormat($0) }
    )
    var accessLogformat: AccessLogFormat?

    @Option(help: "Write the log (errors, startup, workers) to this file ('-' for standard error).")
    var errorLogfile = "-"

    @Flag(help: "Show errors' details in 500 responses. Never in production.")
    var debug = false

    @Option(help: "Seconds an idle keep-alive connection stays open.")
    var keepAlive: Int = 5

    @Option(help: "Seconds in-flight requests may take to finish at shutdown.")
    var gracefulTimeout: Int = 30

    @Option(help: "Event loops (threads serving connections) per process. (default: the usable cores)")
    var eventLoops: Int?

    @Option(
        help:
            "Threads per process for blocking routes, and for every route with --worker-class threads. (default: the usable cores, at least 2)"
    )
    var threads: Int?

    @Option(
        name: [.customShort("k"), .long],
        help:
            "Where handlers run: async (on the event loops; only blocking: true routes on the thread pool) or threads (on the thread pool of --threads, except blocking: false routes). (default: async)"
    )
    var workerClass: WorkerClass?

    @Option(
        help:
            "Jobs that may wait for a thread of the pool; past it, a request for the pool is answered 503 with Retry-After at once. (default: 1024)"
    )
    var threadQueueLimit: Int?

    @Option(name: [.short, .long], help: "Run a master and this many worker processes. (default: one process, no master)")
    var workers: Int?

    @Option(help: "With --workers: seconds a worker may go without a heartbeat before it is killed and replaced; 0 never.")
    var timeout: Int = 30

    @Option(help: "With --workers: a worker is replaced after about this many requests; 0 never.")
    var maxRequests: Int = 0

    @Option(help: "With --workers: add a random 0...J to --max-requests per worker, so they do not all restart at once.")
    var maxRequestsJitter: Int = 0

    @Option(help: "Most connections a process serves at once; past it, it stops accepting until one closes; 0 no limit. (default: 1000)")
    var workerConnections: Int?

    @Option(
        help:
            "Seconds a request body may go without a byte (408), and the grace period before --body-min-rate applies; 0 never. (default: 20)"
    )
    var bodyTimeout: Int = 20

    @Option(help: "After --body-timeout, bytes a second a request body must average (408 below); 0 no minimum. (default: 500)")
    var bodyMinRate: Int = 500

    @Option(help: "Seconds the socket may stay unwritable (the client reads nothing) before the connection closes; 0 never. (default: 60)")
    var writeTimeout: Int = 60

    @Option(
        help: "Seconds a handler may take to start its response before it is cancelled and the request answered 503; 0 never. (default: 0)"
    )
    var handlerTimeout: Int = 0

    @Option(help: "Bytes of an unread request body read and dropped after an early response to keep the connection. (default: 65536)")
    var maxDiscardedBody: Int = 64 * 1024

    @Flag(help: "Development: run a master (with one worker unless --workers says more) that reloads when the executable changes.")
    var reload = false

    @Option(name: .customLong("pid"), help: ArgumentHelp("With --workers: write the master's pid to this file.", valueName: "file"))
    var pidFile: String?

    @Option(help: ArgumentHelp("Umask (octal) for Unix socket files, e.g. 007.", valueName: "octal"))
    var umask: String?

    @Option(
        name: .customLong("forwarded-allow-ips"),
        help: ArgumentHelp(
            "Peers whose X-Forwarded-* and Forwarded headers are believed: addresses and networks, comma-separated, or '*' for all (dangerous unless only the proxy can connect). Unix socket peers are always trusted. (default: $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1)",
            valueName: "ips"
        )
    )
    var forwardedAllowIPs: String?

    @Option(
        help: ArgumentHelp(
            "The forwarded headers believed from a trusted peer, comma-separated: x-forwarded-for, x-forwarded-proto, x-forwarded-host, x-forwarded-port, x-forwarded-prefix, forwarded (RFC 7239), or none. Turn on only what the proxy sets or clears. (default: $FORWARDED_HEADERS, else x-forwarded-for,x-forwarded-proto,x-forwarded-host,x-forwarded-port)",
            valueName: "headers"
        )
    )
    var forwardedHeaders: String?

    @Option(
        help: ArgumentHelp(
            "The host names served, comma-separated: example.com, .example.com (and its subdomains), or '*'; a request for another Host gets 400. (default: $ALLOWED_HOSTS, else any host)",
            valueName: "hosts"
        )
    )
    var allowedHosts: String?

    @Option(
        help: ArgumentHelp(
            "The origins, besides the app's own, whose pages may open its WebSocket routes with the user's cookies, comma-separated: https://app.example.com, http://localhost:3000; '*' for any (no check). A cookie-carrying handshake from another origin gets 403. Routes that pass their own origins: keep them. (default: $CARAFE_WEBSOCKET_ALLOWED_ORIGINS, else the app's own origin only)",
            valueName: "origins"
        )
    )
    var websocketAllowedOrigins: String?

    @Flag(
        help:
            "Expect a PROXY protocol header (v1 or v2) on every connection, from a TCP load balancer, and take the client's address from it."
    )
    var proxyProtocol = false

    @Option(help: ArgumentHelp("With --proxy-protocol: the peers allowed to send PROXY headers; others are closed.", valueName: "ips"))
    var proxyAllowFrom = "127.0.0.1,::1"

    @Option(
        help: ArgumentHelp(
            "Answer probes at this path: PATH is 200 ready, or 503 while draining (readiness); PATH/live is 200 (liveness).",
            valueName: "path"
        )
    )
    var healthPath: String?

    @Option(
        help: ArgumentHelp(
            "On SIGTERM, answer the health path 503 at once but serve on for this many seconds (the balancer's probe interval) before stopping gracefully. (default: 0)",
            valueName: "seconds"
        )
    )
    var drainDelay: Int?

    @Option(
        help: ArgumentHelp(
            "Log an event loop blocked for longer than this many milliseconds, naming the request it runs (a watchdog thread); 0 never. Under --workers the worker also tells the master, whose --timeout log names the requests.",
            valueName: "ms"
        )
    )
    var blockedLoopThreshold: Int = 500

    @Option(
        help: ArgumentHelp(
            "With --workers: recycle a worker whose resident memory passes SIZE (bytes, or 512M, 2G): its replacement starts first and it stops gracefully once that one serves, one worker at a time.",
            valueName: "size"
        )
    )
    var maxWorkerMemory: String?

    @Option(
        help: ArgumentHelp(
            "With --workers: recycle a worker older than DURATION (seconds, or 90s, 30m, 12h, 1d), as --max-worker-memory does.",
            valueName: "duration"
        )
    )
    var maxWorkerAge: String?

    @Option(
        help:
            "Connections the kernel queues on each listening socket before one is accepted (capped by net.core.somaxconn). (default: 1024)"
    )
    var backlog: Int32 = 1024

    @Flag(
        help:
            "With --workers: give each worker slot its own SO_REUSEPORT socket (held by the master, handed to the slot's replacement), so the kernel spreads connections evenly over the workers."
    )
    var reusePort = false

    @Option(
        help: ArgumentHelp(
            "Switch to this user (name or uid) once the sockets are bound: the master before it starts any worker, or the single process.",
            valueName: "user"
        )
    )
    var user: String?

    @Option(
        help: ArgumentHelp(
            "Switch to this group (name or gid) once the sockets are bound. (default: the --user's primary group)",
            valueName: "group"
        )
    )
    var group: String?

    @Option(
        help: ArgumentHelp(
            "Serve Prometheus metrics (GET /metrics) on this address only, never the app's: HOST:PORT. Under --workers the master serves the workers' sum. Needs CarafeMetrics.",
            valueName: "address"
        )
    )
    var metricsBind: String?

    @Option(
        help: ArgumentHelp(
            "Export the request spans (and metrics, without --metrics-bind) over OTLP/HTTP to this collector: a base URL such as http://127.0.0.1:4318, as OTEL_EXPORTER_OTLP_ENDPOINT (which also starts it). Needs CarafeOTel.",
            valueName: "url"
        )
    )
    var otlpEndpoint: String?

    /// `--forwarded-allow-ips`, else `$FORWARDED_ALLOW_IPS`, parsed; nil if neither is given.
    func forwardedAllowIPsValue() throws -> TrustedAddresses? {
        guard let text = self.forwardedAllowIPs ?? ProcessInfo.processInfo.environment["FORWARDED_ALLOW_IPS"] else { return nil }
        do {
            return try TrustedAddresses(parsing: text)
        } catch {
            throw ValidationError("--forwarded-allow-ips: \(error)")
        }
    }

    /// `--forwarded-headers`, else `$FORWARDED_HEADERS`, parsed; nil if neither is given.
    func forwardedHeadersValue() throws -> TrustedForwardedHeaders? {
        guard let text = self.forwardedHeaders ?? ProcessInfo.processInfo.environment["FORWARDED_HEADERS"] else { return nil }
        do {
            return try TrustedForwardedHeaders(parsing: text)
        } catch {
            throw ValidationError("--forwarded-headers: \(error)")
        }
    }

    /// `--allowed-hosts`, else `$ALLOWED_HOSTS`, parsed; nil if neither is given.
    func allowedHostsValue() throws -> AllowedHosts? {
        guard let text = self.allowedHosts ?? ProcessInfo.processInfo.environment["ALLOWED_HOSTS"] else { return nil }
        do {
            return try AllowedHosts(parsing: text)
        } catch {
            throw ValidationError("--allowed-hosts: \(error)")
        }
    }

    /// `--websocket-allowed-origins` (or its `CARAFE_` variable), parsed; nil if not given.
    func webSocketOriginsValue(keeping current: WebSocketOrigins) throws -> WebSocketOrigins? {
        guard let text = self.websocketAllowedOrigins else { return nil }
        do {
            // The app's scope stays (cookie-authenticated handshakes, unless it chose `.always`).
            return try WebSocketOrigins(parsing: text, checking: current.scope == .never ? .cookieAuthenticated : current.scope)
        } catch {
            throw ValidationError("--websocket-allowed-origins: \(error)")
        }
    }

    /// With `--proxy-protocol`, the peers of `--proxy-allow-from`; nil without.
    func proxyProtocolValue() throws -> TrustedAddresses? {
        guard self.proxyProtocol else { return nil }
        do {
            return try TrustedAddresses(parsing: self.proxyAllowFrom)
        } catch {
            throw ValidationError("--proxy-allow-from: \(error)")
        }
    }

    func configuration() throws -> HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration()
        configuration.bind = try self.bindAddresses()
        configuration.tlsBinds = self.tlsBindIndices(count: configuration.bind.count)
        configuration.keepAliveTimeout = .seconds(Int64(self.keepAlive))
        configuration.gracefulTimeout = .seconds(Int64(self.gracefulTimeout))
        if let eventLoops = self.eventLoops { configuration.eventLoops = eventLoops }
        let connections = self.workerConnections ?? 1000
        configuration.maxConnections = connections > 0 ? connections : nil
        configuration.proxyProtocol = try self.proxyProtocolValue()
        configuration.bodyTimeout = self.bodyTimeout > 0 ? .seconds(Int64(self.bodyTimeout)) : nil
        configuration.bodyMinRate = self.bodyMinRate > 0 ? self.bodyMinRate : nil
        configuration.writeTimeout = self.writeTimeout > 0 ? .seconds(Int64(self.writeTimeout)) : nil
        configuration.handlerTimeout = self.handlerTimeout > 0 ? .seconds(Int64(self.handlerTimeout)) : nil
        configuration.maxDiscardedBody = max(0, self.maxDiscardedBody)
        configuration.backlog = try self.backlogValue()
        return configuration
    }

    /// `--bind`, else the sockets systemd passed (socket activation), else 127.0.0.1:8000.
    func bindAddresses() throws -> [BindAddress] {
        if !self.bind.isEmpty { return try self.bind.map { try BindAddress(parsing: Self.withoutScheme($0).address) } }
        if let inherited = ListeningSocket.systemdDescriptors() { return inherited.map(BindAddress.fileDescriptor) }
        return HTTPServerConfiguration().bind
    }

    /// A `--bind` value without its `https://` or `http://` prefix, and whether it had the first.
    static func withoutScheme(_ text: String) -> (address: String, tls: Bool) {
        if text.hasPrefix("https://") { return (String(text.dropFirst(8)), true) }
        if text.hasPrefix("http://") { return (String(text.dropFirst(7)), false) }
        return (text, false)
    }

    /// The binds that speak TLS: the `https://` ones; if none is, all of them with `--certfile`.
    func tlsBindIndices(count: Int) -> Set<Int> {
        let marked = Set(self.bind.indices.filter { Self.withoutScheme(self.bind[$0]).tls })
        if !marked.isEmpty { return marked }
        guard self.certfile != nil else { return [] }
        return Set((0..<count).filter { !self.bind.indices.contains($0) || !self.bind[$0].hasPrefix("http://") })
    }

    /// The TLS and HTTP/2 flags, for the modules that serve them.
    var protocolOptions: ServeProtocolOptions {
        ServeProtocolOptions(
            certfile: self.certfile,
            keyfile: self.keyfile,
            caCerts: self.caCerts,
            certReqs: self.certReqs,
            ciphers: self.ciphers,
            h2c: self.h2c,
            http2: HTTP2LimitOptions(
                maxConcurrentStreams: self.http2MaxConcurrentStreams,
                maxHeaderListSize: self.http2MaxHeaderListSize,
                initialWindowSize: self.http2InitialWindowSize,
                idleTimeout: self.http2IdleTimeout,
                maxResets: self.http2MaxResets
            )
        )
    }

    /// A worker's server: the master's sockets, and the per-worker limits.
    func workerConfiguration(_ worker: WorkerContext) throws -> HTTPServerConfiguration {
        var configuration = try self.configuration()
        configuration.bind = worker.bindAddresses
        if self.maxRequests > 0 {
            configuration.maxRequests = self.maxRequests + Int.random(in: 0...max(0, self.maxRequestsJitter))
        }
        return configuration
    }

    func arbiterConfiguration() throws -> ArbiterConfiguration {
        let workers = self.workers ?? 1
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        var configuration = ArbiterConfiguration(
            workers: workers,
            bind: try self.bindAddresses(),
            timeout: self.timeout > 0 ? .seconds(self.timeout) : nil,
            gracefulTimeout: .seconds(self.gracefulTimeout),
            pidFile: self.pidFile,
            umask: try self.umaskValue(),
            reloadOnChange: self.reload,
            drainDelay: .seconds(max(0, self.drainDelay ?? 0))
        )
        configuration.maxWorkerMemory = try self.maxWorkerMemoryValue()
        configuration.maxWorkerAge = try self.maxWorkerAgeValue()
        configuration.backlog = try self.backlogValue()
        configuration.reusePort = self.reusePort
        (configuration.user, configuration.group) = try self.privilegesValue()
        configuration.processName = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent }
        return configuration
    }

    func maxWorkerMemoryValue() throws -> Int? {
        guard let text = self.maxWorkerMemory else { return nil }
        guard let bytes = ProcessMemory.parseSize(text) else {
            throw ValidationError("--max-worker-memory \(text): give a size in bytes, or with K, M or G (512M, 1.5G)")
        }
        return bytes
    }

    func maxWorkerAgeValue() throws -> Duration? {
        guard let text = self.maxWorkerAge else { return nil }
        guard let age = ProcessMemory.parseDuration(text) else {
            throw ValidationError("--max-worker-age \(text): give a duration in seconds, or with s, m, h or d (90s, 30m, 12h)")
        }
        return age
    }

    func backlogValue() throws -> Int32 {
        guard self.backlog >= 1 else { throw ValidationError("--backlog must be at least 1, not \(self.backlog)") }
        return self.backlog
    }

    /// `--user` and `--group` as ids; nil for each not given.
    func privilegesValue() throws -> (uid_t?, gid_t?) {
        let user = try self.user.map { try Privileges.user(named: $0) }
        let group = try self.group.map { try Privileges.group(named: $0) }
        return (user?.uid, group ?? user?.gid)
    }

    func umaskValue() throws -> mode_t? {
        guard let text = self.umask else { return nil }
        let digits = text.hasPrefix("0o") ? String(text.dropFirst(2)) : text
        guard let value = mode_t(digits, radix: 8), value <= 0o777 else { throw ValidationError("--umask must be octal, e.g. 007") }
        return value
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension WorkerClass: ExpressibleByArgument {}
