import ArgumentParser
import CarafeHTTP
import CarafeSupervisor
import Dispatch
import Foundation
import Synchronization

extension App {
    /// Runs the command line: `serve` (the default) or `routes`. See `--help`.
    ///
    ///     $ hello serve --bind 0.0.0.0:8000 --access-logfile -
    ///     $ hello serve --workers 4 --bind 0.0.0.0:8000 --timeout 30
    ///     $ hello routes
    ///
    /// With `--workers`, this process becomes the supervising master (`Arbiter`) and re-executes
    /// itself as the workers; a worker (it finds `CARAFE_WORKER` in its environment) serves on
    /// the sockets the master handed it.
    public func run(arguments: [String] = Array(CommandLine.arguments.dropFirst())) async throws {
        if let name = arguments.first, let custom = self.lifecycle.commands[name] {
            do {
                try await custom.run(Array(arguments.dropFirst()))
                return
            } catch {
                FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
                exit(1)
            }
        }
        if let first = arguments.first, ["-h", "--help", "help"].contains(first), arguments.count == 1 {
            print(CarafeCommand.helpMessage() + self.lifecycle.commandHelp)
            return
        }
        // `serve`'s flags not on the command line, from CARAFE_<FLAG>, PORT, WEB_CONCURRENCY
        // and the config file (see ServeArguments).
        let resolved: ServeArguments
        do {
            let sources = try ConfigSources(arguments: arguments, environment: self.config.environment, dotEnvPath: self.config.dotEnvPath, formats: self.config.fileFormats)
            resolved = try ServeArguments.resolve(arguments, sources: sources)
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            exit(2)
        }
        let command: any ParsableCommand
        do {
            command = try CarafeCommand.parseAsRoot(resolved.arguments)
        } catch {
            CarafeCommand.exit(withError: error)
        }
        switch command {
        case let serve as ServeCommand:
            if serve.config.printConfig {
                print(resolved.report(settings: self.config.entries), terminator: "")
                return
            }
            let options = serve.options
            if let threads = options.threads { self.blockingThreads = max(1, threads) }
            if let workerClass = options.workerClass { self.workerClass = workerClass }
            if let limit = options.threadQueueLimit { self.threadQueueLimit = max(0, limit) }
            if let worker = WorkerContext.fromEnvironment() {
                do {
                    var configuration = try options.workerConfiguration(worker)
                    try self.applyServerSetups(&configuration, options.protocolOptions)
                    try await self.serve(configuration, options, umask: nil, worker: worker)
                } catch {
                    self.logger.critical("worker \(worker.number) (pid \(getpid())) failed to boot: \(resolved.explain(error))")
                    exit(WorkerExit.bootErrorStatus)  // the master stops instead of respawning
                }
            } else if options.workers != nil || options.reload {
                self.logger.logLevel = options.logLevel
                do {
                    // Bad values stop the master, not each worker as it boots.
                    _ = try options.forwardedAllowIPsValue()
                    _ = try options.forwardedHeadersValue()
                    _ = try options.allowedHostsValue()
                    _ = try options.webSocketOriginsValue(keeping: .default)
                    _ = try options.proxyProtocolValue()
                    let errorLog = try self.logErrors(to: options.errorLogfile)
                    var configuration = try options.arbiterConfiguration()
                    // Loads the certificate files once, so that a bad one stops the master before
                    // any worker. (Not `options.configuration()`: systemd's sockets are read once.)
                    var serverConfiguration = HTTPServerConfiguration(bind: configuration.bind)
                    serverConfiguration.tlsBinds = options.tlsBindIndices(count: configuration.bind.count)
                    try self.applyServerSetups(&serverConfiguration, options.protocolOptions)
                    if options.drainDelay == nil { configuration.drainDelay = self.drainDelay }  // as set in code
                    self.logger.notice("\(self.workerClassSummary)")
                    let arbiter = Arbiter(configuration: configuration, logger: self.logger) { try errorLog?.reopen() }
                    // The access log's lines for requests a worker had in flight when it was
                    // killed: opened for the write (rare), so a log the workers cannot open is
                    // still their boot error, and rotation needs nothing here.
                    if let path = options.accessLogfile {
                        arbiter.killedRequestsLog = { [logger = self.logger] lines in
                            do {
                                try AccessLog(path: path).write(lines: lines)
                            } catch {
                                logger.error("cannot write the access-log lines of a killed worker's requests: \(error)")
                            }
                        }
                    }
                    if let (exporter, address) = try self.metricsEndpoint(options) {
                        arbiter.observer = try await exporter.startMaster(at: address, logger: self.logger)
                    }
                    exit(arbiter.run())
                } catch {
                    self.logger.critical("\(resolved.explain(error))")
                    CarafeCommand.exit(withError: ExitCode.failure)
                }
            } else {
                do {
                    var configuration = try options.configuration()
                    try self.applyServerSetups(&configuration, options.protocolOptions)
                    try await self.serve(configuration, options, umask: options.umaskValue(), worker: nil)
                } catch {
                    self.logger.critical("\(resolved.explain(error))")
                    CarafeCommand.exit(withError: ExitCode.failure)
                }
            }
        case let routes as RoutesCommand:
            print(self.routeTable(workerClass: routes.workerClass ?? self.workerClass), terminator: "")
        default:
            // `--help` and `help`: ArgumentParser's help command "fails" with the help text.
            do {
                var command = command
                try command.run()
            } catch {
                CarafeCommand.exit(withError: error)
            }
        }
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully: stops accepting, lets
    /// requests in flight finish (up to the graceful timeout), and returns. SIGUSR1 reopens the
    /// access log file (for log rotation).
    public func serve(
        _ configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        accessLogPath: String? = nil,
        logLevel: Logger.Level? = nil,
        debug: Bool? = nil
    ) async throws {
        if let logLevel { self.logger.logLevel = logLevel }
        if let debug { self.debug = debug }
        if let accessLogPath { self.accessLog = try AccessLog(path: accessLogPath) }
        try await self.serve(configuration, errorLog: nil, umask: nil, worker: nil)
    }

    /// `serve` with the command line's options: its logs and level, and `--debug`.
    private func serve(_ configuration: HTTPServerConfiguration, _ options: ServeOptions, umask mask: mode_t?, worker: WorkerContext?) async throws {
        self.logger.logLevel = options.logLevel
        let errorLog = try self.logErrors(to: options.errorLogfile)
        if let worker {
            self.logger[metadataKey: "worker"] = "\(worker.number)"
            let name = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "app"
            ProcessTitle.set("carafe: worker \(worker.number) [\(name)]")
        }
        self.debug = options.debug
        // Only what the command line says: settings made in code stay otherwise.
        if let trusted = try options.forwardedAllowIPsValue() { self.forwardedAllowIPs = trusted }
        if let headers = try options.forwardedHeadersValue() { self.forwardedHeaders = headers }
        if let hosts = try options.allowedHostsValue() { self.allowedHosts = hosts }
        if let origins = try options.webSocketOriginsValue(keeping: self.webSocketOrigins) { self.webSocketOrigins = origins }
        if let path = options.healthPath { self.healthPath = path }
        if let seconds = options.drainDelay { self.drainDelay = .seconds(seconds) }
        if let path = options.accessLogfile {
            self.accessLog = try AccessLog(path: path, format: options.accessLogformat ?? (worker == nil ? .default : .defaultWithPID))
        }
        let metrics = try self.metricsEndpoint(options)
        if let metrics {
            metrics.exporter.bootstrap()  // before the services make their metrics
            self.recordsMetrics = true
        }
        let threshold = options.blockedLoopThreshold > 0 ? Duration.milliseconds(options.blockedLoopThreshold) : nil
        // A worker's master dropped them already; a single process drops them once it listens.
        let privileges = worker == nil ? try options.privilegesValue() : (nil, nil)
        try await self.serve(
            configuration, errorLog: errorLog, umask: mask, worker: worker, metrics: metrics, blockedLoopThreshold: threshold, dropPrivileges: privileges)
    }

    /// `--metrics-bind` and the app's exporter; nil without the option. An error if the app
    /// has no exporter, or the address is one the app serves on.
    private func metricsEndpoint(_ options: ServeOptions) throws -> (exporter: any MetricsExporter, address: BindAddress)? {
        guard let text = options.metricsBind else { return nil }
        let address: BindAddress
        do {
            address = try BindAddress(parsing: text)
        } catch {
            throw ValidationError("--metrics-bind: \(error)")
        }
        guard let exporter = self.metricsExporter else {
            throw ValidationError("--metrics-bind: this app has no metrics exporter; add CarafeMetrics and set app.metricsExporter = PrometheusExporter()")
        }
        if case .hostPort(_, let port) = address, port != 0, try options.bindAddresses().contains(address) {
            throw ValidationError("--metrics-bind \(text): the metrics are never served on the app's own address; give another port")
        }
        return (exporter, address)
    }

    /// Sends the app's log to `path` (`--error-logfile`) and returns the file; "-" keeps
    /// standard error and returns nil.
    private func logErrors(to path: String) throws -> LogFile? {
        guard path != "-" else { return nil }
        let file = try LogFile(path: path, kind: "error log")
        let level = self.logger.logLevel
        self.logger = Logger(label: self.logger.label) { FileLogHandler(label: $0, file: file) }
        self.logger.logLevel = level
        return file
    }

    /// `serve`, as a single process or as a master's worker: a worker labels its log lines,
    /// heartbeats to the master once it accepts, stops gracefully on TERM and at once on INT
    /// or QUIT, and shuts down if its master is gone. USR1 reopens the log files.
    private func serve(
        _ configuration: HTTPServerConfiguration,
        errorLog: LogFile?,
        umask mask: mode_t?,
        worker: WorkerContext?,
        metrics: (exporter: any MetricsExporter, address: BindAddress)? = nil,
        blockedLoopThreshold: Duration? = nil,
        dropPrivileges: (user: uid_t?, group: gid_t?) = (nil, nil)
    ) async throws {
        let server = HTTPServer(configuration: configuration, responder: self.responder, logger: self.logger)
        do {
            for start in self.lifecycle.startHooks { try await start(server.eventLoopGroup) }
        } catch {
            await server.shutdown()
            throw error
        }
        server.beforeEventLoopsStop { [stopHooks = self.lifecycle.stopHooks] in
            for stop in stopHooks { await stop() }
        }
        let previousMask = mask.map { umask($0) }  // for the files of Unix sockets
        do {
            try await server.start()
        } catch {
            previousMask.map { _ = umask($0) }
            throw error
        }
        previousMask.map { _ = umask($0) }
        do {
            try Privileges.drop(user: dropPrivileges.user, group: dropPrivileges.group)
        } catch {
            await server.shutdown()
            throw error
        }
        let graceful = worker == nil ? [SIGINT, SIGTERM] : [SIGTERM]
        // A single process drains on TERM: it answers its health path "draining" at once and
        // serves on for the drain delay, so that a load balancer stops sending, then stops. (Under
        // a master, the master waits out the delay and tells the workers with USR2.)
        let drainDelay = worker == nil ? self.drainDelay : .zero
        let stopping = SignalLatch()
        var signals = graceful.map { signo in
            Self.onSignal(signo) { [logger, readiness = self.readiness] in
                guard stopping.first() else {
                    // A second Ctrl-C (or TERM): stop waiting for connections.
                    logger.notice("received signal \(signo) again; closing every connection now")
                    server.closeAllConnections()
                    return
                }
                guard signo == SIGTERM, drainDelay > .zero, readiness.isReady else {
                    logger.info("received signal \(signo); shutting down gracefully")
                    // Ctrl-C on a single process is a quick stop: idle connections close at once.
                    let closingIdle = signo == SIGINT && worker == nil
                    Task { await server.shutdown(closingIdle: closingIdle) }
                    return
                }
                readiness.isReady = false
                logger.notice("received TERM: draining: not ready, serving for \(drainDelay) more, then stopping gracefully")
                Task {
                    try? await Task.sleep(for: drainDelay)
                    await server.shutdown()
                }
            }
        }
        if worker != nil {
            signals.append(
                Self.onSignal(SIGUSR2) { [logger, readiness = self.readiness] in
                    readiness.isReady = false
                    logger.info("received USR2 (the master is draining): answering the health path with 503")
                })
        }
        if worker == nil, let tls = configuration.tls {
            // A single process has no new workers to load renewed certificate files: HUP reads
            // them again for new connections (a master reloads its workers instead).
            signals.append(
                Self.onSignal(SIGHUP) { [logger] in
                    do {
                        try tls.reload(logger: logger)
                    } catch {
                        logger.error("received HUP: \(error); still serving the certificate loaded before")
                    }
                })
        }
        signals.append(
            Self.onSignal(SIGUSR1) { [logger, accessLog = self.accessLog] in
                do {
                    try accessLog?.reopen()
                    try errorLog?.reopen()
                    logger.info("received USR1: reopened log files")
                } catch {
                    logger.error("received USR1: \(error)")
                }
            })
        var heartbeat: WorkerHeartbeat?
        let refreshGauges: @Sendable () -> Void = { [self] in self.refreshMetrics(from: server) }
        var metricsEndpoint: (any MetricsEndpoint)?
        if let metrics, worker == nil {
            metricsEndpoint = try await metrics.exporter.serve(at: metrics.address, logger: self.logger, refresh: refreshGauges)
        }
        if let worker {
            // A master's quick stop: exit now, as Gunicorn's workers do on INT and QUIT.
            signals += [SIGINT, SIGQUIT].map { Self.onSignal($0) { _exit(0) } }
            heartbeat = WorkerHeartbeat(context: worker, group: server.eventLoopGroup, logger: self.logger) {
                Task { await server.shutdown() }
            }
            if let metrics {
                let report = metrics.exporter.startWorker(logger: self.logger)
                heartbeat?.report {
                    refreshGauges()
                    return [HeartbeatFrame(kind: .metrics, payload: report())]
                }
            }
            heartbeat?.start()
            server.beforeEventLoopsStop { [heartbeat] in heartbeat?.stop() }
            self.logger.info("worker \(worker.number) (pid \(getpid())) serving on \(server.localAddresses.map { Self.url(of: $0) }.joined(separator: ", "))")
        } else {
            self.logger.notice("\(self.workerClassSummary)")
            for address in server.localAddresses {
                let url = Self.url(of: address)
                let tls = server.localTLSAddresses.contains(address) && url.hasPrefix("http:")
                self.logger.notice("Carafe serving on \(tls ? "https" + url.dropFirst(4) : url) (pid \(getpid()), \(configuration.eventLoops) event loops)")
            }
        }
        var watchdog: LoopWatchdog?
        if let threshold = blockedLoopThreshold {
            watchdog = LoopWatchdog(group: server.eventLoopGroup, threshold: threshold, logger: self.logger) { [heartbeat] report in
                heartbeat?.send(HeartbeatFrame(kind: .inFlight, payload: Array(report.utf8)))
            }
            watchdog?.start()
            server.beforeEventLoopsStop { [watchdog] in watchdog?.stop() }
        }
        await server.waitUntilStopped()
        watchdog?.stop()
        await metricsEndpoint?.stop()
        heartbeat?.stop()
        signals.forEach { $0.cancel() }
        self.logger.info("stopped")
    }

    /// The route table as the `routes` command prints it, with where each route runs under
    /// the app's worker class.
    public var routeTable: String { self.routeTable(workerClass: self.workerClass) }

    /// The route table, with where each route runs under `workerClass` (`routes --worker-class`).
    public func routeTable(workerClass: WorkerClass) -> String {
        let rows = self.routes.map { [$0.method.rawValue, $0.pattern.description, $0.name ?? "", $0.placement(workerClass)] }
        let header = ["METHOD", "PATH", "NAME", "RUNS ON"]
        let widths = header.indices.map { column in max(header[column].count, rows.map { $0[column].count }.max() ?? 0) }
        func row(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        let title = "worker class: \(workerClass) (routes that do not say blocking: run on the \(workerClass == .threads ? "thread pool" : "event loop"))\n"
        return title + ([row(header)] + rows.map(row)).map { $0.trimmingCharacters(in: .whitespaces) + "\n" }.joined()
    }

    /// The line `serve` logs at start: the worker class and the pool.
    var workerClassSummary: String {
        let pool = "a pool of \(self.blockingThreads) threads per process, at most \(self.threadQueueLimit) jobs queued (--thread-queue-limit)"
        switch self.workerClass {
        case .async:
            return "worker class async: handlers run on the event loops; blocking: true routes on \(pool)"
        case .threads:
            return "worker class threads: handlers run on \(pool), except blocking: false routes"
        }
    }

    /// Runs `handler` on a dispatch queue whenever the process receives `signo`.
    private static func onSignal(_ signo: Int32, _ handler: @escaping @Sendable () -> Void) -> any DispatchSourceSignal {
        signal(signo, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signo)
        source.setEventHandler(handler: handler)
        source.resume()
        return source
    }

    private static func url(of address: SocketAddress) -> String {
        switch address {
        case .unixDomainSocket: "unix:\(address.pathname ?? "?")"
        case .v6: "http://[\(address.ipAddress ?? "::")]:\(address.port ?? 0)"
        default: "http://\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        }
    }
}

/// True for the first signal only: the second one stops at once.
final class SignalLatch: Sendable {
    private let seen = Atomic<Bool>(false)
    func first() -> Bool { !self.seen.exchange(true, ordering: .relaxed) }
}

/// The command line of a Carafe app.
struct CarafeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: (CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent }) ?? "app",
        abstract: "A Carafe web application.",
        subcommands: [ServeCommand.self, RoutesCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Serve the app over HTTP.")

    @OptionGroup var options: ServeOptions
    @OptionGroup var config: ConfigOptions
}

/// Where `serve`'s flags and the app's settings come from besides the command line.
struct ConfigOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A JSON file of settings: the app's (app.config), and serve's flags in its \"serve\" object. (default: $CARAFE_CONFIG) Every flag is also read from CARAFE_<FLAG>; see docs/configuration.md.", valueName: "file"))
    var config: String?

    @Flag(help: "Print each of serve's flags and the app's settings with its value and where it came from (secrets masked), and exit.")
    var printConfig = false
}

struct RoutesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routes", abstract: "Print the route table, and where each route runs.")

    @Option(name: [.customShort("k"), .long], help: "Show where routes run under this worker class: async or threads. (default: the app's, async unless set in code)")
    var workerClass: WorkerClass?
}

/// Options of `serve`, named as Gunicorn names them where it has them.
struct ServeOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Where to listen: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N, each optionally prefixed https:// (TLS) or http:// (plain); repeatable. (default: systemd's LISTEN_FDS if set, else 127.0.0.1:8000)")
    var bind: [String] = []

    @Option(help: ArgumentHelp("TLS: the certificate chain (PEM). With no https:// bind, every bind speaks TLS. Needs CarafeTLS.", valueName: "file"))
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

    @Option(help: ArgumentHelp("HTTP/2: streams a client may have open at once, advertised in SETTINGS; more are refused (REFUSED_STREAM). (default: 100)", valueName: "n"))
    var http2MaxConcurrentStreams: Int?

    @Option(help: ArgumentHelp("HTTP/2: bytes of a request's header list, advertised in SETTINGS; a larger one is refused. (default: 16384)", valueName: "bytes"))
    var http2MaxHeaderListSize: Int?

    @Option(help: ArgumentHelp("HTTP/2: the flow-control window of each stream for request bodies, advertised in SETTINGS, and of the connection. (default: 65535)", valueName: "bytes"))
    var http2InitialWindowSize: Int?

    @Option(help: ArgumentHelp("HTTP/2: seconds a connection with no stream open stays before a GOAWAY closes it; 0 never. (default: 60)", valueName: "seconds"))
    var http2IdleTimeout: Int?

    @Option(help: ArgumentHelp("HTTP/2: streams a client may reset within 30 seconds; past it the connection gets GOAWAY (ENHANCE_YOUR_CALM) and is closed (the rapid-reset attack, CVE-2023-44487). (default: 200)", valueName: "n"))
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

    @Option(help: "Threads per process for blocking routes, and for every route with --worker-class threads. (default: the usable cores, at least 2)")
    var threads: Int?

    @Option(
        name: [.customShort("k"), .long],
        help: "Where handlers run: async (on the event loops; only blocking: true routes on the thread pool) or threads (on the thread pool of --threads, except blocking: false routes). (default: async)"
    )
    var workerClass: WorkerClass?

    @Option(help: "Jobs that may wait for a thread of the pool; past it, a request for the pool is answered 503 with Retry-After at once. (default: 1024)")
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

    @Option(help: "Seconds a request body may go without a byte (408), and the grace period before --body-min-rate applies; 0 never. (default: 20)")
    var bodyTimeout: Int = 20

    @Option(help: "After --body-timeout, bytes a second a request body must average (408 below); 0 no minimum. (default: 500)")
    var bodyMinRate: Int = 500

    @Option(help: "Seconds the socket may stay unwritable (the client reads nothing) before the connection closes; 0 never. (default: 60)")
    var writeTimeout: Int = 60

    @Option(help: "Seconds a handler may take to start its response before it is cancelled and the request answered 503; 0 never. (default: 0)")
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

    @Flag(help: "Expect a PROXY protocol header (v1 or v2) on every connection, from a TCP load balancer, and take the client's address from it.")
    var proxyProtocol = false

    @Option(help: ArgumentHelp("With --proxy-protocol: the peers allowed to send PROXY headers; others are closed.", valueName: "ips"))
    var proxyAllowFrom = "127.0.0.1,::1"

    @Option(help: ArgumentHelp("Answer probes at this path: PATH is 200 ready, or 503 while draining (readiness); PATH/live is 200 (liveness).", valueName: "path"))
    var healthPath: String?

    @Option(help: ArgumentHelp("On SIGTERM, answer the health path 503 at once but serve on for this many seconds (the balancer's probe interval) before stopping gracefully. (default: 0)", valueName: "seconds"))
    var drainDelay: Int?

    @Option(help: ArgumentHelp("Log an event loop blocked for longer than this many milliseconds, naming the request it runs (a watchdog thread); 0 never. Under --workers the worker also tells the master, whose --timeout log names the requests.", valueName: "ms"))
    var blockedLoopThreshold: Int = 500

    @Option(help: ArgumentHelp("With --workers: recycle a worker whose resident memory passes SIZE (bytes, or 512M, 2G): its replacement starts first and it stops gracefully once that one serves, one worker at a time.", valueName: "size"))
    var maxWorkerMemory: String?

    @Option(help: ArgumentHelp("With --workers: recycle a worker older than DURATION (seconds, or 90s, 30m, 12h, 1d), as --max-worker-memory does.", valueName: "duration"))
    var maxWorkerAge: String?

    @Option(help: "Connections the kernel queues on each listening socket before one is accepted (capped by net.core.somaxconn). (default: 1024)")
    var backlog: Int32 = 1024

    @Flag(help: "With --workers: give each worker slot its own SO_REUSEPORT socket (held by the master, handed to the slot's replacement), so the kernel spreads connections evenly over the workers.")
    var reusePort = false

    @Option(help: ArgumentHelp("Switch to this user (name or uid) once the sockets are bound: the master before it starts any worker, or the single process.", valueName: "user"))
    var user: String?

    @Option(help: ArgumentHelp("Switch to this group (name or gid) once the sockets are bound. (default: the --user's primary group)", valueName: "group"))
    var group: String?

    @Option(help: ArgumentHelp("Serve Prometheus metrics (GET /metrics) on this address only, never the app's: HOST:PORT. Under --workers the master serves the workers' sum. Needs CarafeMetrics.", valueName: "address"))
    var metricsBind: String?

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
            certfile: self.certfile, keyfile: self.keyfile, caCerts: self.caCerts, certReqs: self.certReqs, ciphers: self.ciphers, h2c: self.h2c,
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
