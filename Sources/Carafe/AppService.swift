import CarafeHTTP
import ServiceLifecycle
import Synchronization

extension App {
    /// The app as a swift-service-lifecycle `Service`, for a program that runs its own
    /// `ServiceGroup` (a Hummingbird-style `main`): `run()` serves `configuration` until the
    /// group's graceful shutdown, then drains as `serve` does (requests in flight finish, idle
    /// connections close) and returns once the app's own services (`addService`) have stopped.
    /// Cancellation stops at once. The group owns the signals: the app installs no handler.
    ///
    ///     let group = ServiceGroup(
    ///         services: [database, app.service(HTTPServerConfiguration(bind: [.hostPort(host: "0.0.0.0", port: 8000)]))],
    ///         gracefulShutdownSignals: [.sigterm, .sigint],
    ///         logger: logger
    ///     )
    ///     try await group.run()
    ///
    /// `onServing` is called once the server listens, with its addresses (real port numbers
    /// where the configuration said 0). `app.run()` remains the one-line way with a command line.
    public func service(
        _ configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        onServing: (@Sendable ([SocketAddress]) async -> Void)? = nil
    ) -> AppService {
        AppService(app: self, configuration: configuration, onServing: onServing)
    }
}

/// An app serving one configuration, as a `Service` (see `App.service(_:onServing:)`).
public struct AppService: Service, CustomStringConvertible {
    let app: App
    public let configuration: HTTPServerConfiguration
    let onServing: (@Sendable ([SocketAddress]) async -> Void)?

    public var description: String { "Carafe app on \(self.configuration.bind.map { "\($0)" }.joined(separator: ", "))" }

    public func run() async throws {
        let handle = ServerHandle()
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await self.app.serve(
                    self.configuration,
                    errorLog: nil,
                    umask: nil,
                    worker: nil,
                    handle: handle,
                    installsSignals: false,
                    onServing: self.onServing
                )
            } onGracefulShutdown: {
                handle.stop()
            }
        } onCancel: {
            handle.stop(closingAll: true)
        }
    }
}

/// How something other than a signal stops a server that `serve` runs: the group's graceful
/// shutdown, a cancellation, or a service of the app that ended. A stop asked for before the
/// server exists is kept and carried out when it is attached.
final class ServerHandle: Sendable {
    private let state = Mutex<(server: HTTPServer?, stop: Bool, closingAll: Bool)>((nil, false, false))

    /// Whether a stop was asked for (serving then ends quietly, even before it started).
    var stopRequested: Bool { self.state.withLock { $0.stop } }

    func attach(_ server: HTTPServer) {
        let (stop, closingAll) = self.state.withLock { state in
            state.server = server
            return (state.stop, state.closingAll)
        }
        if stop { Self.stop(server, closingAll: closingAll) }
    }

    /// A graceful stop; `closingAll`: at once (every connection closes now).
    func stop(closingAll: Bool = false) {
        let server = self.state.withLock { state in
            state.stop = true
            state.closingAll = state.closingAll || closingAll
            return state.server
        }
        if let server { Self.stop(server, closingAll: closingAll) }
    }

    private static func stop(_ server: HTTPServer, closingAll: Bool) {
        server.beginShutdown(closingIdle: closingAll)
        if closingAll { server.closeAllConnections() }
    }
}
