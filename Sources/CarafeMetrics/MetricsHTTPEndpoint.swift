import Carafe
import NIOCore

/// `GET /metrics` on an address of its own, served by Carafe's HTTP server on one event loop
/// of its own (so a busy or stuck app loop never delays a scrape).
final class MetricsHTTPEndpoint: MetricsEndpoint {
    private let server: HTTPServer

    private init(server: HTTPServer) { self.server = server }

    static func start(at address: BindAddress, logger: Logger, text: @escaping @Sendable () -> String) async throws -> MetricsHTTPEndpoint {
        var configuration = HTTPServerConfiguration(bind: [address], eventLoops: 1)
        configuration.gracefulTimeout = .seconds(1)
        let server = HTTPServer(configuration: configuration, responder: MetricsResponder(text: text), logger: logger)
        try await server.start()
        for address in server.localAddresses {
            logger.notice("metrics on http://\(address.ipAddress ?? "?"):\(address.port ?? 0)/metrics")
        }
        return MetricsHTTPEndpoint(server: server)
    }

    func stop() async {
        await self.server.shutdown()
    }
}

/// Answers `GET /metrics` with the Prometheus text format; anything else is a 404 or 405.
struct MetricsResponder: HTTPResponder {
    let text: @Sendable () -> String

    func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
        let path = request.head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard path == "/metrics" else {
            return .rejection(.notFound, "Only /metrics is served here.")
        }
        guard request.head.method == .GET || request.head.method == .HEAD else {
            var response = HTTPServerResponse.rejection(.methodNotAllowed, "/metrics answers GET only.")
            response.headers.replaceOrAdd(name: "allow", value: "GET, HEAD")
            return response
        }
        let body = ByteBuffer(string: self.text())
        return HTTPServerResponse(
            status: .ok,
            headers: ["content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store"],
            body: .buffer(body)
        )
    }
}
