import CarafeCore

extension RouteBuilder {
    /// Registers a WebSocket route: `GET path` with `Upgrade: websocket` switches the connection
    /// to WebSocket (RFC 6455) and runs `handler` with it for as long as it likes. Over HTTP/2
    /// (`useHTTP2`), an extended CONNECT with `:protocol: websocket` to `path` (RFC 8441) opens
    /// the same session on a stream of its own; it reaches the route, its hooks and the access
    /// log as that `GET`, with `Upgrade: websocket`, and is answered `200`.
    ///
    ///     app.websocket("/echo") { req, ws in
    ///         for await message in ws.messages {
    ///             try await ws.send(message)
    ///         }
    ///     }
    ///
    /// The app's and blueprints' before-hooks run first, as for any request, so a hook can
    /// refuse the upgrade (say, 401 without a session). A request that is not a valid opening
    /// handshake gets 426 (plain HTTP, or a version other than 13) or 400, with a message.
    /// Messages over `options.maxMessageSize` (1 MiB by default) close the connection with
    /// 1009; the server pings a quiet peer every `options.pingInterval`. When the handler
    /// returns the connection closes with 1000 (1011 if it threw), unless it handed the session
    /// to a hub (`ws.relay`); when the peer goes away, `ws.messages` ends and the handler's task
    /// is cancelled.
    ///
    /// `origins` guards against cross-site WebSocket hijacking: by default (nil) the app's
    /// `App.webSocketOrigins` apply, under which a handshake that carries cookies must come from
    /// the app's own origin or one listed, else 403 (see `WebSocketOrigins`).
    @discardableResult
    public func websocket(
        _ path: String,
        name: String? = nil,
        options: WebSocketOptions = WebSocketOptions(),
        origins: WebSocketOrigins? = nil,
        _ handler: @escaping @Sendable (Request, WebSocket) async throws -> Void
    ) -> Self {
        self.get(path, name: name) { request in
            let head = HTTPRequestHead(version: request.version, method: request.method, uri: request.uri, headers: request.headers)
            if let problem = WebSocketHandshake.problem(with: head) {
                throw HTTPError(problem.status, problem.message, headers: problem.headers)
            }
            if let refusal = (origins ?? request.webSocketOrigins).problem(
                origin: request.headers.first(name: "origin"),
                hasCookies: request.headers.contains(name: "cookie"),
                scheme: request.scheme,
                host: request.host
            ) {
                throw HTTPError(.forbidden, refusal)
            }
            // Over HTTP/2 the extended CONNECT is accepted with 200 (RFC 8441), and logged so.
            return Response(
                status: request.version.major == 2 ? .ok : .switchingProtocols,
                body: .webSocket(options) { socket in try await handler(request, socket) }
            )
        }
    }
}
