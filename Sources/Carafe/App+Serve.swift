import ArgumentParser
import CarafeHTTP
import CarafeSupervisor
import Dispatch
import Foundation
import ServiceLifecycle
import Synchronization

extension App {
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
    func serve(_ configuration: HTTPServerConfiguration, _ options: ServeOptions, umask mask: mode_t?, worker: WorkerContext?) async throws
    {
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
        // `--otlp-endpoint`: the tracer is the app's before it first serves; sent off at the end.
        let telemetry = try self.startTelemetry(options, worker: worker, metricsBound: metrics != nil)
        let threshold = options.blockedLoopThreshold > 0 ? Duration.milliseconds(options.blockedLoopThreshold) : nil
        // A worker's master dropped them already; a single process drops them once it listens.
        let privileges = worker == nil ? try options.privilegesValue() : (nil, nil)
        do {
            try await self.serve(
                configuration,
                errorLog: errorLog,
                umask: mask,
                worker: worker,
                metrics: metrics,
                blockedLoopThreshold: threshold,
                dropPrivileges: privileges,
                refreshesGauges: telemetry?.exportsMetrics ?? false
            )
        } catch {
            await telemetry?.shutdown()
            throw error
        }
        await telemetry?.shutdown()
    }

    /// `--metrics-bind` and the app's exporter; nil without the option. An error if the app
    /// has no exporter, or the address is one the app serves on.
    func metricsEndpoint(_ options: ServeOptions) throws -> (exporter: any MetricsExporter, address: BindAddress)? {
        guard let text = options.metricsBind else { return nil }
        let address: BindAddress
        do {
            address = try BindAddress(parsing: text)
        } catch {
            throw ValidationError("--metrics-bind: \(error)")
        }
        guard let exporter = self.metricsExporter else {
            throw ValidationError(
                "--metrics-bind: this app has no metrics exporter; add CarafeMetrics and set app.metricsExporter = PrometheusExporter()"
            )
        }
        if case .hostPort(_, let port) = address, port != 0, try options.bindAddresses().contains(address) {
            throw ValidationError("--metrics-bind \(text): the metrics are never served on the app's own address; give another port")
        }
        return (exporter, address)
    }

    /// Sends the app's log to `path` (`--error-logfile`) and returns the file; "-" keeps
    /// standard error and returns nil.
    func logErrors(to path: String) throws -> LogFile? {
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
    ///
    /// The app's services (`addService`) run in a `ServiceGroup` of their own: started before the
    /// server binds, told to shut down gracefully once it has drained (before the stop hooks), and
    /// waited for; one that ends while the app serves stops the app. With a `handle` (the app as a
    /// `Service`), something else stops the server; `installsSignals: false` leaves the signals
    /// to the program's own `ServiceGroup`.
    func serve(
        _ configuration: HTTPServerConfiguration,
        errorLog: LogFile?,
        umask mask: mode_t?,
        worker: WorkerContext?,
        metrics: (exporter: any MetricsExporter, address: BindAddress)? = nil,
        blockedLoopThreshold: Duration? = nil,
        dropPrivileges: (user: uid_t?, group: gid_t?) = (nil, nil),
        handle: ServerHandle = ServerHandle(),
        installsSignals: Bool = true,
        onServing: (@Sendable ([SocketAddress]) async -> Void)? = nil,
        refreshesGauges: Bool = false
    ) async throws {
        let services = self.lifecycle.services
        var stopServices: @Sendable () async -> Void = {}
        if !services.isEmpty {
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: services.map {
                        .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
                    },
                    logger: self.logger
                )
            )
            // Owned: every way out of this function waits for it (`stopServices`).
            let running = Task { [logger] in
                do {
                    try await group.run()
                } catch {
                    logger.error("a service of the app failed: \(error); stopping")
                }
                handle.stop()  // a service that ended stops the app; nothing once it stops anyway
            }
            stopServices = {
                await group.triggerGracefulShutdown()
                await running.value
            }
        }
        do {
            try await self.serveServer(
                configuration,
                errorLog: errorLog,
                umask: mask,
                worker: worker,
                metrics: metrics,
                blockedLoopThreshold: blockedLoopThreshold,
                dropPrivileges: dropPrivileges,
                handle: handle,
                installsSignals: installsSignals,
                onServing: onServing,
                afterDrain: stopServices,
                refreshesGauges: refreshesGauges
            )
        } catch {
            await stopServices()
            throw error
        }
        await stopServices()
    }

    private func serveServer(
        _ configuration: HTTPServerConfiguration,
        errorLog: LogFile?,
        umask mask: mode_t?,
        worker: WorkerContext?,
        metrics: (exporter: any MetricsExporter, address: BindAddress)?,
        blockedLoopThreshold: Duration?,
        dropPrivileges: (user: uid_t?, group: gid_t?),
        handle: ServerHandle,
        installsSignals: Bool,
        onServing: (@Sendable ([SocketAddress]) async -> Void)?,
        afterDrain: @escaping @Sendable () async -> Void,
        refreshesGauges: Bool
    ) async throws {
        let server = HTTPServer(configuration: configuration, responder: self.responder, logger: self.logger)
        do {
            for start in self.lifecycle.startHooks { try await start(server.eventLoopGroup) }
        } catch {
            await server.shutdown()
            throw error
        }
        // Once the connections are gone: the teardown hooks still running, the app's services,
        // then the stop hooks (which may close what those used).
        server.beforeEventLoopsStop { [stopHooks = self.lifecycle.stopHooks, tasks = self.lifecycle.tasks, logger] in
            let left = await tasks.wait(grace: .seconds(5))
            if left > 0 { logger.warning("\(left) teardown tasks still running after 10 s; stopping without them") }
            await afterDrain()
            for stop in stopHooks { await stop() }
        }
        handle.attach(server)
        let previousMask = mask.map { umask($0) }  // for the files of Unix sockets
        do {
            try await server.start()
        } catch {
            previousMask.map { _ = umask($0) }
            await server.shutdown()
            if handle.stopRequested, error is HTTPServerLifecycleError { return }  // stopped before it started
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
        var signals: [any DispatchSourceSignal] = []
        // Without signals (the app as a `Service`), the program's `ServiceGroup` has them.
        signals += (installsSignals ? graceful : []).map { signo in
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
                    server.beginShutdown(closingIdle: closingIdle)
                    return
                }
                readiness.isReady = false
                logger.notice("received TERM: draining: not ready, serving for \(drainDelay) more, then stopping gracefully")
                server.beginShutdown(after: drainDelay)
            }
        }
        if worker != nil, installsSignals {
            signals.append(
                Self.onSignal(SIGUSR2) { [logger, readiness = self.readiness] in
                    readiness.isReady = false
                    logger.info("received USR2 (the master is draining): answering the health path with 503")
                }
            )
        }
        if worker == nil, installsSignals, let tls = configuration.tls {
            // A single process has no new workers to load renewed certificate files: HUP reads
            // them again for new connections (a master reloads its workers instead).
            signals.append(
                Self.onSignal(SIGHUP) { [logger] in
                    do {
                        try tls.reload(logger: logger)
                    } catch {
                        logger.error("received HUP: \(error); still serving the certificate loaded before")
                    }
                }
            )
        }
        signals += (installsSignals ? [SIGUSR1] : []).map { _ in
            Self.onSignal(SIGUSR1) { [logger, accessLog = self.accessLog] in
                do {
                    try accessLog?.reopen()
                    try errorLog?.reopen()
                    logger.info("received USR1: reopened log files")
                } catch {
                    logger.error("received USR1: \(error)")
                }
            }
        }
        var heartbeat: WorkerHeartbeat?
        let refreshGauges: @Sendable () -> Void = { [self] in self.refreshMetrics(from: server) }
        var metricsEndpoint: (any MetricsEndpoint)?
        if let metrics, worker == nil {
            metricsEndpoint = try await metrics.exporter.serve(at: metrics.address, logger: self.logger, refresh: refreshGauges)
        }
        // A pushing backend (OTLP) reads the sampled gauges when it exports: sample them each second.
        let gaugeSampler =
            refreshesGauges
            ? server.eventLoopGroup.next().scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in refreshGauges() }
            : nil
        if let worker {
            // A master's quick stop: exit now, as Gunicorn's workers do on INT and QUIT.
            signals += [SIGINT, SIGQUIT].map { Self.onSignal($0) { _exit(0) } }
            heartbeat = WorkerHeartbeat(context: worker, group: server.eventLoopGroup, logger: self.logger) {
                server.beginShutdown()
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
            self.logger.info(
                "worker \(worker.number) (pid \(getpid())) serving on \(server.localAddresses.map { Self.url(of: $0) }.joined(separator: ", "))"
            )
        } else {
            self.logger.notice("\(self.workerClassSummary)")
            for address in server.localAddresses {
                let url = Self.url(of: address)
                let tls = server.localTLSAddresses.contains(address) && url.hasPrefix("http:")
                self.logger.notice(
                    "Carafe serving on \(tls ? "https" + url.dropFirst(4) : url) (pid \(getpid()), \(configuration.eventLoops) event loops)"
                )
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
        await onServing?(server.localAddresses)
        await server.waitUntilStopped()
        gaugeSampler?.cancel()
        watchdog?.stop()
        await metricsEndpoint?.stop()
        heartbeat?.stop()
        signals.forEach { $0.cancel() }
        self.logger.info("stopped")
    }

    /// Runs `handler` on a dispatch queue whenever the process receives `signo`.
    static func onSignal(_ signo: Int32, _ handler: @escaping @Sendable () -> Void) -> any DispatchSourceSignal {
        signal(signo, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signo)
        source.setEventHandler(handler: handler)
        source.resume()
        return source
    }

    static func url(of address: SocketAddress) -> String {
        switch address {
        case .unixDomainSocket: "unix:\(address.pathname ?? "?")"
        case .v6: "http://[\(address.ipAddress ?? "::")]:\(address.port ?? 0)"
        default: "http://\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        }
    }
}
