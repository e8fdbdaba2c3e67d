import CarafeBroadcast
import CarafeCore
import CarafeSQL
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// A `BroadcastHub`'s backplane on PostgreSQL's LISTEN/NOTIFY: `hub.broadcast` sends a
/// `pg_notify` through the pool, and each process that has subscribers keeps one connection of
/// its own that LISTENs and hands what arrives to its hub.
///
///     let hub = BroadcastHub(backplane: try PostgresBackplane(database: db))
///     app.sse("/events") { req, events in
///         for await message in hub.subscribe("chat") { try await events.send(data: message) }
///     }
///     app.post("/chat") { req in try await hub.broadcast(req.bodyText, on: "chat"); return HTTPStatus.accepted }
///
/// - A message and its channel name must fit PostgreSQL's payload limit (8000 bytes, as JSON
///   `["channel","message"]`); a larger one is refused with a 413 before it is sent.
/// - If the listening connection breaks (the database restarted), it reconnects every second
///   and LISTENs again. What was sent while it was away is lost: NOTIFY is not a queue.
/// - Delivery follows PostgreSQL's: in commit order, at most once, to processes listening when
///   it is sent.
public final class PostgresBackplane: BroadcastBackplane {
    /// The longest payload PostgreSQL's NOTIFY takes, in bytes.
    public static let payloadLimit = 7999

    public let database: Database
    /// The PostgreSQL channel that carries every hub channel.
    public let channel: String
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let state = Mutex<(task: Task<Void, Never>?, connection: PostgresConnection?, listening: Bool, stopped: Bool)>(
        (nil, nil, false, false)
    )

    /// A backplane over `database`, which must be a PostgreSQL one.
    public init(database: Database, channel: String = "carafe_broadcast", logger: Logger = Logger(label: "carafe.broadcast")) throws {
        guard let driver = database.driver as? PostgresDriver else {
            throw DatabaseURLError("PostgresBackplane needs a PostgreSQL database (LISTEN/NOTIFY); this one is \(database.dialect)")
        }
        self.database = database
        self.channel = channel
        self.configuration = driver.configuration
        self.logger = logger
    }

    /// Whether this process is LISTENing now: from then on it receives what any process sends.
    public var isListening: Bool { self.state.withLock { $0.listening } }

    public func send(_ message: String, on channel: String) async throws {
        let payload = String(decoding: try JSONEncoder().encode([channel, message]), as: UTF8.self)
        guard payload.utf8.count <= Self.payloadLimit else {
            throw HTTPError(
                .payloadTooLarge,
                "A broadcast message may be at most \(Self.payloadLimit) bytes with its channel name (PostgreSQL's NOTIFY limit); this one is \(payload.utf8.count)."
            )
        }
        try await self.database.execute("SELECT pg_notify(\(self.channel), \(payload))")
    }

    public func start(delivering deliver: @escaping @Sendable (String, String) -> Void) {
        self.state.withLock { state in
            guard state.task == nil, !state.stopped else { return }
            state.task = Task { await self.listen(deliver) }
        }
    }

    /// Stops listening and closes the connection.
    public func stop() async {
        let (task, connection) = self.state.withLock { state in
            state.stopped = true
            return (state.task, state.connection)
        }
        task?.cancel()
        try? await connection?.close()  // ends the wait for the next notification
        await task?.value
    }

    /// Connects, LISTENs and delivers until cancelled; after a failure, again a second later.
    private func listen(_ deliver: @escaping @Sendable (String, String) -> Void) async {
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            do {
                let connection = try await PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.next(),
                    configuration: self.configuration,
                    id: -attempt,
                    logger: self.logger
                )
                let stopped = self.state.withLock { state in
                    if !state.stopped { state.connection = connection }
                    return state.stopped
                }
                if stopped {
                    try? await connection.close()
                    return
                }
                do {
                    try await connection.listen(on: self.channel) { notifications in
                        self.state.withLock { $0.listening = true }
                        self.logger.info("listening for broadcasts on PostgreSQL channel \(self.channel) (pid \(getpid()))")
                        for try await notification in notifications {
                            guard let parts = try? JSONDecoder().decode([String].self, from: Data(notification.payload.utf8)),
                                parts.count == 2
                            else {
                                self.logger.warning("ignoring a notification on \(self.channel) that is not [channel, message]")
                                continue
                            }
                            deliver(parts[1], parts[0])
                        }
                    }
                } catch {
                    if !Task.isCancelled { self.logger.warning("broadcast listener lost its connection: \(String(reflecting: error))") }
                }
                self.state.withLock { ($0.connection, $0.listening) = (nil, false) }
                try? await connection.close()
            } catch {
                self.logger.warning("broadcast listener cannot connect (retrying in 1 s): \(String(reflecting: error))")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
