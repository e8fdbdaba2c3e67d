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
            let sources = try ConfigSources(
                arguments: arguments,
                environment: self.config.environment,
                dotEnvPath: self.config.dotEnvPath,
                formats: self.config.fileFormats
            )
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
            let worker: WorkerContext?
            do {
                worker = try WorkerContext.fromEnvironment()
            } catch {
                self.logger.critical("pid \(getpid()) failed to boot: \(error)")
                exit(WorkerExit.bootErrorStatus)  // a master stops instead of respawning
            }
            if let worker {
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
                    _ = try self.telemetryIsWanted(options)  // each worker exports its own spans
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
}

/// True for the first signal only: the second one stops at once.
final class SignalLatch: Sendable {
    private let seen = Atomic<Bool>(false)
    func first() -> Bool { !self.seen.exchange(true, ordering: .relaxed) }
}
