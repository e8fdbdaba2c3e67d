import ArgumentParser
import CarafeHTTP
import Dispatch
import Foundation

extension App {
    /// Runs the command line: `serve` (the default) or `routes`. See `--help`.
    ///
    ///     $ hello serve --bind 0.0.0.0:8000 --access-logfile -
    ///     $ hello routes
    public func run(arguments: [String] = Array(CommandLine.arguments.dropFirst())) async throws {
        let command: any ParsableCommand
        do {
            command = try CarafeCommand.parseAsRoot(arguments)
        } catch {
            CarafeCommand.exit(withError: error)
        }
        switch command {
        case let serve as ServeCommand:
            do {
                try await self.serve(serve.options.configuration(), accessLogPath: serve.options.accessLogfile, logLevel: serve.options.logLevel, debug: serve.options.debug)
            } catch {
                self.logger.critical("\(error)")
                CarafeCommand.exit(withError: ExitCode.failure)
            }
        case is RoutesCommand:
            print(self.routeTable, terminator: "")
        default:
            var command = command
            try command.run()
        }
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully: stops accepting, lets
    /// requests in flight finish (up to the graceful timeout), and returns.
    public func serve(
        _ configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        accessLogPath: String? = nil,
        logLevel: Logger.Level? = nil,
        debug: Bool? = nil
    ) async throws {
        if let logLevel { self.logger.logLevel = logLevel }
        if let debug { self.debug = debug }
        if let accessLogPath { self.accessLog = try AccessLog(path: accessLogPath) }
        var configuration = configuration
        configuration.maxBodySize = self.maxBodySize
        let server = HTTPServer(configuration: configuration, responder: AppResponder(services: self.services), logger: self.logger)
        try await server.start()
        let signals = [SIGINT, SIGTERM].map { signo in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo)
            source.setEventHandler { [logger] in
                logger.info("received signal \(signo); shutting down gracefully")
                Task { await server.shutdown() }
            }
            source.resume()
            return source
        }
        for address in server.localAddresses {
            self.logger.notice("Carafe serving on \(Self.url(of: address)) (pid \(getpid()), \(configuration.eventLoops) event loops)")
        }
        await server.waitUntilStopped()
        signals.forEach { $0.cancel() }
        self.logger.info("stopped")
    }

    /// The route table as the `routes` command prints it.
    public var routeTable: String {
        let rows = self.routes.map { ($0.method.rawValue, $0.pattern.description, $0.name ?? "") }
        let methodWidth = max(6, rows.map(\.0.count).max() ?? 0)
        let pathWidth = max(4, rows.map(\.1.count).max() ?? 0)
        func row(_ a: String, _ b: String, _ c: String) -> String {
            a.padding(toLength: methodWidth, withPad: " ", startingAt: 0) + "  "
                + b.padding(toLength: pathWidth, withPad: " ", startingAt: 0) + "  " + c
        }
        return ([row("METHOD", "PATH", "NAME")] + rows.map(row)).map { $0.trimmingCharacters(in: .whitespaces) + "\n" }.joined()
    }

    private static func url(of address: SocketAddress) -> String {
        switch address {
        case .unixDomainSocket: "unix:\(address.pathname ?? "?")"
        case .v6: "http://[\(address.ipAddress ?? "::")]:\(address.port ?? 0)"
        default: "http://\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        }
    }
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
}

struct RoutesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routes", abstract: "Print the route table.")
}

/// Options of `serve`, named as Gunicorn names them where it has them.
struct ServeOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Where to listen: HOST:PORT, [IPv6]:PORT or unix:PATH; repeatable. (default: 127.0.0.1:8000)")
    var bind: [String] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .notice

    @Option(help: "Write an access log line per request to this file ('-' for standard output).")
    var accessLogfile: String?

    @Flag(help: "Show errors' details in 500 responses. Never in production.")
    var debug = false

    @Option(help: "Seconds an idle keep-alive connection stays open.")
    var keepAlive: Int = 5

    @Option(help: "Seconds in-flight requests may take to finish at shutdown.")
    var gracefulTimeout: Int = 30

    @Option(help: "Event loops (threads serving connections). (default: the usable cores)")
    var eventLoops: Int?

    func configuration() throws -> HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration()
        if !self.bind.isEmpty { configuration.bind = try self.bind.map(BindAddress.init(parsing:)) }
        configuration.keepAliveTimeout = .seconds(Int64(self.keepAlive))
        configuration.gracefulTimeout = .seconds(Int64(self.gracefulTimeout))
        if let eventLoops = self.eventLoops { configuration.eventLoops = eventLoops }
        return configuration
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
