import CarafeHTTP
import NIOCore
import ServiceLifecycle
import Synchronization

extension App {
    /// Runs `body` when the app starts serving, in each process that serves (each worker under
    /// `--workers`), once the server's event loops exist and before it accepts connections: the
    /// place to open what handlers share, on the loops that will serve them. A hook that throws
    /// stops the server from starting (a worker reports a boot error).
    ///
    ///     app.onStart { eventLoops in try await cache.connect(on: eventLoops) }
    public func onStart(_ body: @escaping @Sendable (any EventLoopGroup) async throws -> Void) {
        self.lifecycle.state.withLock { $0.start.append(body) }
    }

    /// Runs `body` when the server stops, after the last connection has closed and before the
    /// event loops stop: the place to close what `onStart` opened. Stop hooks run in the reverse
    /// order of their registration.
    public func onStop(_ body: @escaping @Sendable () async -> Void) {
        self.lifecycle.state.withLock { $0.stop.append(body) }
    }

    /// Runs `service` (swift-service-lifecycle's `Service`) with the app: wherever the app
    /// serves (each worker under `--workers`, or `app.service()` inside your own
    /// `ServiceGroup`), the app's services start before the server binds, and once the server
    /// has drained its connections they get the graceful shutdown, in the reverse order of
    /// their adding, and serving returns when every one has returned. A service that returns or
    /// throws while the app serves stops the app gracefully.
    ///
    ///     app.addService(metricsPusher)      // run() until gracefulShutdown()
    ///     try await app.run()
    ///
    /// The app's own services (a database's pool, `useDatabase`) are added the same way, before
    /// the ones added after them, so that they stop after them.
    public func addService(_ service: some Service) {
        self.lifecycle.state.withLock { $0.services.append(service) }
    }

    /// Adds a command to the app's command line, beside `serve` and `routes`: `app.run()` with
    /// `name` as its first argument runs `body` with the arguments after it, and exits 1 (printing
    /// the error) if it throws.
    ///
    ///     app.command("seed", abstract: "Fill the database with sample data.") { arguments in ... }
    ///     $ myapp seed --users 100
    public func command(_ name: String, abstract: String, _ body: @escaping @Sendable ([String]) async throws -> Void) {
        self.lifecycle.state.withLock { $0.commands[name] = AppLifecycle.Command(abstract: abstract, run: body) }
    }
}

/// An app's start and stop hooks and its extra commands.
package final class AppLifecycle: Sendable {
    package struct Command {
        package let abstract: String
        package let run: @Sendable ([String]) async throws -> Void
    }

    struct State {
        var start: [@Sendable (any EventLoopGroup) async throws -> Void] = []
        var stop: [@Sendable () async -> Void] = []
        package var commands: [String: Command] = [:]
        var services: [any Service] = []
        var serverSetups: [@Sendable (inout HTTPServerConfiguration, ServeProtocolOptions, Logger) throws -> Void] = []
    }

    let state = Mutex(State())
    /// Tasks the app starts outside a request's task (`AppServices.tasks`).
    package let tasks = OwnedTasks()

    package var startHooks: [@Sendable (any EventLoopGroup) async throws -> Void] { self.state.withLock { $0.start } }
    package var stopHooks: [@Sendable () async -> Void] { self.state.withLock { $0.stop.reversed() } }
    package var commands: [String: Command] { self.state.withLock { $0.commands } }
    /// The services `App.addService` added, in that order.
    package var services: [any Service] { self.state.withLock { $0.services } }
    package var serverSetups: [@Sendable (inout HTTPServerConfiguration, ServeProtocolOptions, Logger) throws -> Void] {
        self.state.withLock { $0.serverSetups }
    }

    /// The extra commands as `--help` lists them.
    package var commandHelp: String {
        let commands = self.commands.sorted { $0.key < $1.key }
        guard !commands.isEmpty else { return "" }
        let width = commands.map(\.key.count).max() ?? 0
        return "\n\nMORE SUBCOMMANDS:\n"
            + commands.map { "  \($0.key.padding(toLength: width, withPad: " ", startingAt: 0))  \($0.value.abstract)\n" }.joined()
    }
}
