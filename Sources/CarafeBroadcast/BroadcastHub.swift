import CarafeHTTP
import NIOCore
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
///
/// A subscriber can also be a connection instead of a task: `subscribe(_:to:encoding:)` takes a
/// `DetachedStream` (an event stream whose handler handed it over: `EventStream.relay` in
/// `CarafeStreaming`). The hub then writes to it itself: `publish` encodes the message once per
/// encoding in use, and sends the same bytes to every such subscriber, with one hop per event
/// loop (not per subscriber) and one write and flush each. Such a subscriber's queue is its
/// connection's: at most `bufferSize` messages wait while its client reads slowly, then
/// `policy` applies (`.dropOldest` drops its oldest waiting message, `.disconnect` closes it),
/// so a stuck client neither delays the others nor grows without bound. It leaves the hub when
/// its connection ends.
public final class BroadcastHub: Sendable {
    /// What to do with a subscriber whose queue is full.
    public enum SlowSubscriberPolicy: Sendable {
        case dropOldest
        case disconnect
    }

    private struct Subscriber {
        let continuation: AsyncStream<String>.Continuation
    }

    /// A connection the hub writes to itself.
    private struct DirectSubscriber: Sendable {
        let stream: DetachedStream
        let variant: Variant
    }

    /// One way of turning a message into bytes: an encoding, framed as a chunk or not.
    private struct Variant: Hashable, Sendable {
        let encoding: ObjectIdentifier
        let chunked: Bool
    }

    /// A channel's direct subscribers, by event loop, and the encodings they use.
    private struct DirectChannel {
        var loops: [ObjectIdentifier: (loop: any EventLoop, members: [Int: DirectSubscriber])] = [:]
        var variants: [Variant: (encoding: BroadcastEncoding, users: Int)] = [:]
        var count = 0
    }

    private struct State {
        var next = 0
        var subscribers: [String: [Int: Subscriber]] = [:]
        var direct: [String: DirectChannel] = [:]
    }

    public let bufferSize: Int
    public let policy: SlowSubscriberPolicy
    /// What carries `broadcast`s between processes; nil: this process only.
    public let backplane: (any BroadcastBackplane)?
    private let channels = Mutex(State())
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
        self.startListening()
        return stream
    }

    /// Makes `stream` a subscriber of `channel`: from now on the hub writes each message
    /// published there to it, as `encoding` makes it (framed as a chunk when the stream is
    /// chunked), until the stream ends. Call on the stream's event loop or elsewhere.
    public func subscribe(_ stream: DetachedStream, to channel: String, encoding: BroadcastEncoding) {
        let variant = Variant(encoding: ObjectIdentifier(encoding), chunked: stream.isChunked)
        let loopID = ObjectIdentifier(stream.eventLoop)
        let id = self.channels.withLock { state in
            state.next += 1
            // In place: copying the channel's entry out and back would copy all its subscribers.
            state.direct[channel, default: DirectChannel()].loops[loopID, default: (stream.eventLoop, [:])].members[state.next] =
                DirectSubscriber(stream: stream, variant: variant)
            state.direct[channel, default: DirectChannel()].variants[variant, default: (encoding, 0)].users += 1
            state.direct[channel, default: DirectChannel()].count += 1
            return state.next
        }
        let policy: DetachedStream.Policy = self.policy == .dropOldest ? .dropOldest : .close
        let limit = self.bufferSize
        stream.eventLoop.execute { [weak self] in
            stream.limitQueue(to: limit, policy: policy)
            stream.onEnd { self?.remove(id, stream: loopID, variant: variant, from: channel) }
        }
        self.startListening()
    }

    private func startListening() {
        if let backplane = self.backplane, !self.listening.exchange(true, ordering: .relaxed) {
            // From the first subscriber on, this process receives every process's broadcasts.
            backplane.start { [weak self] message, channel in self?.publish(message, on: channel) }
        }
    }

    /// Queues `message` for every subscriber of `channel`; returns how many queued it.
    /// A task subscriber over its limit is handled by `policy` and not counted; a connection
    /// subscriber is counted (its queue is checked on its event loop, after this returns).
    @discardableResult
    public func publish(_ message: String, on channel: String) -> Int {
        let (subscribers, loops, variants) = self.channels.withLock { state in
            let direct = state.direct[channel]
            return (
                Array((state.subscribers[channel] ?? [:]).values),
                direct.map { $0.loops.values.map { (loop: $0.loop, members: Array($0.members.values)) } } ?? [],
                direct?.variants ?? [:]
            )
        }
        if !loops.isEmpty {
            // Encoded once per encoding: every subscriber is sent the same bytes.
            var encoded: [Variant: ByteBuffer] = [:]
            for (variant, (encoding, _)) in variants {
                let bytes = encoding.encode(message)
                encoded[variant] = variant.chunked ? DetachedStream.chunk(bytes) : bytes
            }
            let frames = encoded
            for (loop, members) in loops {
                loop.execute {
                    for member in members {
                        if let bytes = frames[member.variant] { member.stream.write(bytes) }
                    }
                }
            }
        }
        var queued = loops.reduce(0) { $0 + $1.members.count }
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
        self.channels.withLock { ($0.subscribers[channel]?.count ?? 0) + ($0.direct[channel]?.count ?? 0) }
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

    private func remove(_ id: Int, stream loop: ObjectIdentifier, variant: Variant, from channel: String) {
        self.channels.withLock { state in
            // In place, as in `subscribe`: one removal must not copy the other subscribers.
            guard state.direct[channel]?.loops[loop]?.members.removeValue(forKey: id) != nil else { return }
            if state.direct[channel]?.loops[loop]?.members.isEmpty == true { state.direct[channel]?.loops[loop] = nil }
            state.direct[channel]?.count -= 1
            state.direct[channel]?.variants[variant]?.users -= 1
            if state.direct[channel]?.variants[variant]?.users == 0 { state.direct[channel]?.variants[variant] = nil }
            if state.direct[channel]?.count == 0 { state.direct[channel] = nil }
        }
    }

    private func remove(_ id: Int, from channel: String) {
        self.channels.withLock { state in
            state.subscribers[channel]?[id] = nil
            if state.subscribers[channel]?.isEmpty == true { state.subscribers[channel] = nil }
        }
    }
}

/// How a message published on a `BroadcastHub` becomes the bytes of one event on a connection
/// that subscribed directly (`BroadcastHub.subscribe(_:to:encoding:)`): a Server-Sent Event's
/// `data:` lines, say. The hub encodes each message once per encoding in use, so keep one
/// instance per format (a `static let`), not one per subscriber.
public final class BroadcastEncoding: Sendable {
    let encode: @Sendable (String) -> ByteBuffer

    public init(_ encode: @escaping @Sendable (String) -> ByteBuffer) {
        self.encode = encode
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
