import CarafeCore

/// Where a Server-Sent Events handler sends its events (see `RouteBuilder.sse`).
///
/// Each `send` waits while the client reads slowly (the response body's backpressure) and
/// throws once the client has gone. Sends from several tasks are written whole, one after the
/// other.
public struct EventStream: Sendable {
    private let writer: any ResponseBodyWriter
    /// The `Last-Event-ID` the browser sent when it reconnected, if any: resume after it.
    public let lastEventID: String?

    init(writer: any ResponseBodyWriter, lastEventID: String?) {
        self.writer = writer
        self.lastEventID = lastEventID
    }

    public func send(_ event: ServerSentEvent) async throws {
        try await self.writer.write(ByteBuffer(string: event.encoded))
    }

    public func send(data: String, event: String? = nil, id: String? = nil, retry: Int? = nil) async throws {
        try await self.send(ServerSentEvent(data: data, event: event, id: id, retry: retry))
    }

    /// Hands the rest of the stream to `hub`: from now on every message published on
    /// `channel` goes out as an event (`data:` lines, as `send(data:)` writes them), written by
    /// the hub itself. The handler should return after it (write nothing more).
    ///
    ///     app.sse("/news") { req, events in
    ///         try await events.comment("hello")
    ///         try await events.relay(hub, channel: "news")
    ///     }
    ///
    /// On an HTTP/1 connection it returns at once and the response outlives the handler: the
    /// connection leaves HTTP (the request's decoder, encoder and handler, and its task, are
    /// freed), and the hub writes each event, encoded once for all its subscribers, on the
    /// connection's event loop; the heartbeat carries on from one timer per loop. That is what
    /// lets one process hold tens of thousands of idle event streams at a few KiB each. The
    /// stream ends (and the connection closes) when the client goes away, when its client reads
    /// too slowly for the hub's `policy` (`.disconnect`; with `.dropOldest` it misses the oldest
    /// waiting events instead), when the socket stays full for the server's write timeout, or
    /// when the server drains. Teardown hooks and the access log then see the stream's end.
    ///
    /// Where the connection cannot be handed over (HTTP/2, a compressed response, the test
    /// client), it relays in this task instead, as `for await` over `hub.subscribe(channel)`
    /// would, and returns when the stream ends.
    public func relay(_ hub: BroadcastHub, channel: String) async throws {
        if let stream = await self.writer.detach() {
            hub.subscribe(stream, to: channel, encoding: .serverSentEvents)
            return
        }
        for await message in hub.subscribe(channel) {
            try await self.send(data: message)
        }
    }

    /// The heartbeat comment.
    static let ping = ByteBuffer(string: ": ping\n\n")

    /// A comment line (`: text`): ignored by browsers, it keeps proxies from closing an idle stream.
    public func comment(_ text: String) async throws {
        let lines = ServerSentEvent.lines(of: text).map { ": \($0)\n" }.joined()
        try await self.writer.write(ByteBuffer(string: lines + "\n"))
    }
}

extension RouteBuilder {
    /// Registers a Server-Sent Events route: `GET path` answers `text/event-stream` and runs
    /// `handler` with the stream for as long as it likes; the response ends when it returns.
    ///
    ///     app.sse("/clock") { req, events in
    ///         while true {
    ///             try await events.send(data: "\(Date())")
    ///             try await Task.sleep(for: .seconds(1))
    ///         }
    ///     }
    ///
    /// The response carries `Cache-Control: no-cache` and `X-Accel-Buffering: no`, so nginx
    /// passes each event on at once. After every `heartbeat` (default 15 s; nil for none)
    /// without an event, a `: ping` comment goes out, so proxies keep an idle stream open and a
    /// client that has gone is noticed. The heartbeat is a timer on the connection's event loop,
    /// not a task. When the client disconnects, the handler's task is cancelled.
    @discardableResult
    public func sse(
        _ path: String,
        name: String? = nil,
        heartbeat: Duration? = .seconds(15),
        _ handler: @escaping @Sendable (Request, EventStream) async throws -> Void
    ) -> Self {
        self.get(path, name: name) { request in
            Response(
                status: .ok,
                headers: [
                    "content-type": "text/event-stream; charset=utf-8",
                    "cache-control": "no-cache",
                    "x-accel-buffering": "no",
                ],
                body: .stream(length: nil) { writer in
                    if let heartbeat { writer.keepAlive(every: heartbeat, with: EventStream.ping) }
                    try await handler(request, EventStream(writer: writer, lastEventID: request.headers.first(name: "last-event-id")))
                }
            )
        }
    }
}

extension BroadcastEncoding {
    /// A message as one Server-Sent Event: its lines as `data:` lines.
    public static let serverSentEvents = BroadcastEncoding { message in
        ByteBuffer(string: ServerSentEvent(data: message).encoded)
    }
}
