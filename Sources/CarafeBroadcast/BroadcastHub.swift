import CarafeHTTP
import ServiceLifecycle
import Synchronization

/// Named channels that handlers subscribe to and publish on: the fan-out behind Server-Sent
/// Events, WebSocket and long-polling routes. `publish` reaches this process's subscribers;
/// with a `backplane` (PostgreSQL's LISTEN/NOTIFY: `PostgresBackplane` in `CarafePostgres`),
/// `broadcast` reaches the subscribers of every process and machine that shares it.
///
///     let hub = BroadcastHub()
///     app.sse("/events") { req, events in
///         for await message in hub.subscribe("news") { try await events.send(data: message) }
///     }
///     app.post("/news") { req in "\(hub.publish(req.bodyText, on: "news"))" }
///
/// Each subscriber has its own queue of at most `bufferSize` messages, so one stuck client
/// never slows the others or the publisher (`publish` never waits). When a queue is full the
/// hub applies `policy`: `.dropOldest` loses the subscriber's oldest queued message to make
/// room; `.disconnect` ends that subscriber's sequence, so its handler returns and the client
/// reconnects (SSE's `EventSource` does so by itself). A subscription ends, and leaves the hub,
/// when its task is cancelled (the client went away) or its sequence is dropped, and when the
/// server that runs the subscribing request begins to shut down (`DrainSignal`).
public final class BroadcastHub: Sendable {
    /// What to do with a subscriber whose queue is full.
    public enum SlowSubscriberPolicy: Sendable {
        case dropOldest
        case disconnect
    }

    private struct Subscriber {
        let continuation: AsyncStream<String>.Continuation
    }

    public let bufferSize: Int
    public let policy: SlowSubscriberPolicy
    /// What carries `broadcast`s between processes; nil: this process only.
    public let backplane: (any BroadcastBackplane)?
    private let channels = Mutex<(next: Int, subscribers: [String: [Int: Subscriber]])>((0, [:]))
    private let listening = Atomic<Bool>(false)

    public init(bufferSize: Int = 256, policy: SlowSubscriberPolicy = .dropOldest, backplane: (any BroadcastBackplane)? = nil) {
        precondition(bufferSize > 0, "a subscriber's queue must hold at least one message")
        self.bufferSize = bufferSize
        self.policy = policy
        self.backplane = backplane
    }

    /// Publishes `message` on `channel` to the subscribers of every process that shares the
    /// backplane, this one's included (they receive it back through the backplane); without a
    /// backplane, the same as `publish`. Throws if the backplane cannot send it (too large, the
    /// database is down).
    public func broadcast(_ message: String, on channel: String) async throws {
        if let backplane = self.backplane {
            try await backplane.send(message, on: channel)
        } else {
            self.publish(message, on: channel)
        }
    }

    /// The messages published on `channel` from now on, in order.
    public func subscribe(_ channel: String) -> AsyncStream<String> {
        let buffering: AsyncStream<String>.Continuation.BufferingPolicy =
            self.policy == .dropOldest ? .bufferingNewest(self.bufferSize) : .bufferingOldest(self.bufferSize)
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: buffering)
        let id = self.channels.withLock { state in
            state.next += 1
            state.subscribers[channel, default: [:]][state.next] = Subscriber(continuation: continuation)
            return state.next
        }
        // A server that begins to drain ends the subscriptions its requests made, so that an
        // event stream or long poll returns instead of holding the shutdown.
        let drain = DrainSignal.current
        let token = drain?.onDrain { continuation.finish() }
        continuation.onTermination = { [weak self] _ in
            drain?.cancel(token)
            self?.remove(id, from: channel)
        }
        if let backplane = self.backplane, !self.listening.exchange(true, ordering: .relaxed) {
            // From the first subscriber on, this process receives every process's broadcasts.
            backplane.start { [weak self] message, channel in self?.publish(message, on: channel) }
        }
        return stream
    }

    /// Queues `message` for every subscriber of `channel`; returns how many queued it.
    /// A subscriber over its limit is handled by `policy` and not counted.
    @discardableResult
    public func publish(_ message: String, on channel: String) -> Int {
        let subscribers = self.channels.withLock { Array(($0.subscribers[channel] ?? [:]).values) }
        var queued = 0
        for subscriber in subscribers {
            switch subscriber.continuation.yield(message) {
            case .enqueued:
                queued += 1
            case .dropped:
                // `.dropOldest` made room by dropping an older message, so this one is queued.
                if self.policy == .dropOldest { queued += 1 } else { subscriber.continuation.finish() }
            case .terminated:
                break
            @unknown default:
                break
            }
        }
        return queued
    }

    /// How many subscribers `channel` has now.
    public func subscriberCount(_ channel: String) -> Int {
        self.channels.withLock { $0.subscribers[channel]?.count ?? 0 }
    }

    /// The next message on `channel`, or nil if none comes within `timeout`: a long-poll.
    /// Cancelling the calling task (the client went away) ends the wait at once.
    public func next(on channel: String, timeout: Duration) async -> String? {
        let messages = self.subscribe(channel)
        return await withTaskGroup(of: String?.self) { group in
            group.addTask {
                var iterator = messages.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    private func remove(_ id: Int, from channel: String) {
        self.channels.withLock { state in
            state.subscribers[channel]?[id] = nil
            if state.subscribers[channel]?.isEmpty == true { state.subscribers[channel] = nil }
        }
    }
}

/// The hub as a swift-service-lifecycle `Service`: `app.addService(hub)` (or the hub in your own
/// `ServiceGroup`) stops its backplane at the graceful shutdown, after the server has drained,
/// so that its connection (PostgreSQL's LISTEN) is closed, not left to the process's exit.
extension BroadcastHub: Service {
    public func run() async throws {
        try? await gracefulShutdown()
        await self.backplane?.stop()
    }
}
