import CoreMetrics
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Blocked-loop forensics, done from outside the loops: each event loop records the requests it
/// started and has not finished (`InFlightRequests`), and a watchdog thread (not a loop, so it
/// runs while they are stuck) posts a no-op to every loop each `threshold / 4`. A loop whose
/// no-op has waited longer than `threshold` is stuck: the watchdog logs one line naming the
/// loop, how long, and the request it started last (method, route, path, request id), the one
/// that blocks it in all likelihood, and counts the stall (`carafe_event_loop_stalls_total`,
/// `carafe_event_loop_stall_seconds`). It logs again when the loop moves, with the total.
///
/// In a worker it also hands the requests in flight to `onStall`, at a stall and again when the
/// loop moves (the heartbeat sends them to the master, whose `--timeout` log names them).
public final class LoopWatchdog: Sendable {
    private final class Probe: Sendable {
        let index: Int
        let loop: any EventLoop
        /// When the pending no-op was posted; nil when none is pending.
        let posted = Mutex<ContinuousClock.Instant?>(nil)
        let reported = Atomic<Bool>(false)
        init(index: Int, loop: any EventLoop) {
            self.index = index
            self.loop = loop
        }
    }

    private let probes: [Probe]
    private let threshold: Duration
    private let logger: Logger
    private let inFlight: InFlightRequests
    private let onStall: @Sendable (String) -> Void
    /// Set by `stop()`, under the lock each check holds, so no check posts to a loop after it.
    private let stopped = Mutex<Bool>(false)
    private let stalls = Counter(label: "carafe_event_loop_stalls_total")
    private let stallTime = Timer(label: "carafe_event_loop_stall_seconds")

    /// A watchdog of `group`'s loops; nothing runs before `start()`.
    /// A watchdog of `group`'s loops that logs a loop blocked past `threshold` to `logger`, and
    /// hands the requests in flight to `onStall`; nothing runs before `start()`.
    public convenience init(
        group: any EventLoopGroup,
        threshold: Duration,
        logger: Logger,
        onStall: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.init(group: group, threshold: threshold, inFlight: .shared, logger: logger, onStall: onStall)
    }

    init(
        group: any EventLoopGroup,
        threshold: Duration,
        inFlight: InFlightRequests,
        logger: Logger,
        onStall: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.probes = group.makeIterator().enumerated().map { Probe(index: $0.offset, loop: $0.element) }
        self.threshold = threshold
        self.inFlight = inFlight
        self.logger = logger
        self.onStall = onStall
    }

    /// Starts the watchdog's thread (and the recording of requests in flight).
    public func start() {
        InFlightRequests.isOn = true
        let thread = Thread { [self] in
            let period = max(self.threshold / 4, .milliseconds(5))
            while true {
                Thread.sleep(forTimeInterval: period / .seconds(1))
                let running = self.stopped.withLock { stopped in
                    if !stopped { self.check() }
                    return !stopped
                }
                if !running { return }
            }
        }
        thread.name = "carafe-watchdog"
        thread.start()
    }

    /// Stops the watchdog: once this returns, it posts to no loop (call it before the loops stop).
    public func stop() {
        self.stopped.withLock { $0 = true }
    }

    private func check() {
        let now = ContinuousClock.now
        for probe in self.probes {
            let posted = probe.posted.withLock { posted -> ContinuousClock.Instant? in
                if posted == nil { posted = now }
                return posted
            }
            guard let posted else { continue }
            if posted == now {
                probe.loop.execute { [self] in
                    let waited = probe.posted.withLock { posted in
                        defer { posted = nil }
                        return posted.map { ContinuousClock.now - $0 }
                    }
                    if probe.reported.exchange(false, ordering: .relaxed), let waited {
                        self.stallTime.recordNanoseconds(Self.nanoseconds(waited))
                        self.logger.warning("event loop \(probe.index) moved again after being blocked for \(Self.milliseconds(waited)) ms")
                        self.onStall(self.inFlight.report(now: .now))
                    }
                }
                continue
            }
            let waited = now - posted
            guard waited > self.threshold, !probe.reported.exchange(true, ordering: .relaxed) else { continue }
            self.stalls.increment()
            let running = self.inFlight.requests(on: probe.loop)
            let last = running.max { $0.started < $1.started }
            self.logger.error(
                "event loop \(probe.index) blocked for \(Self.milliseconds(waited)) ms (threshold \(Self.milliseconds(self.threshold)) ms); running \(last.map { $0.description(now: now) } ?? "no request (a timer or a connection's I/O)")\(running.count > 1 ? "; \(running.count) requests in flight on it" : "")"
            )
            self.onStall(self.inFlight.report(now: now))
        }
    }

    static func milliseconds(_ duration: Duration) -> Int64 { Self.nanoseconds(duration) / 1_000_000 }
    static func nanoseconds(_ duration: Duration) -> Int64 { TimeAmount(duration).nanoseconds }
}

/// The requests each event loop has started and not finished, for the watchdog and the
/// master's timeout log. One lock per loop thread (found through a thread-local), taken by
/// that thread and, only while it is stuck, by the watchdog: never contended.
final class InFlightRequests: Sendable {
    /// The process's, used by `AppResponder` while a watchdog runs (`isOn`).
    static let shared = InFlightRequests()
    private static let on = Atomic<Bool>(false)
    static var isOn: Bool {
        get { Self.on.load(ordering: .relaxed) }
        set { Self.on.store(newValue, ordering: .relaxed) }
    }

    struct Entry: @unchecked Sendable {
        let request: Request

        var started: ContinuousClock.Instant { self.request.startedAt }

        /// Read while the loop that runs the request is stuck (or after it ended).
        func description(now: ContinuousClock.Instant) -> String {
            let route = self.request.route?.pattern.description ?? RequestMetrics.unmatchedRoute
            return
                "\(self.request.method.rawValue) \(FileLogHandler.escaped(self.request.path)) (route \(route), request id \(self.request.id), for \(LoopWatchdog.milliseconds(now - self.started)) ms)"
        }

        /// The access-log line the master writes if it kills the worker for `--timeout` while
        /// this request runs: status 504, no bytes, the time until `now`; nil without an access log.
        func accessLine(now: ContinuousClock.Instant) -> String? {
            guard let log = self.request.services.accessLog else { return nil }
            let line = AccessLog.line(self.request, Response(status: .gatewayTimeout), bytes: 0, format: log.format, end: now)
            return String(line.dropLast())  // its newline
        }
    }

    final class Slot: Sendable {
        let entries = Mutex<[ObjectIdentifier: Entry]>([:])
    }

    private let slots = Mutex<[ObjectIdentifier: Slot]>([:])
    private let local = ThreadSpecificVariable<Slot>()

    /// Records `request` as running on the current event loop; nil off the loops (the test client).
    func start(_ request: Request) -> Slot? {
        let slot: Slot
        if let known = self.local.currentValue {
            slot = known
        } else {
            guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return nil }
            slot = self.slots.withLock { slots in
                if let slot = slots[ObjectIdentifier(loop)] { return slot }
                let slot = Slot()
                slots[ObjectIdentifier(loop)] = slot
                return slot
            }
            self.local.currentValue = slot
        }
        slot.entries.withLock { $0[ObjectIdentifier(request)] = Entry(request: request) }
        return slot
    }

    func finish(_ request: Request, in slot: Slot) {
        slot.entries.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(request)) }
    }

    func requests(on loop: any EventLoop) -> [Entry] {
        guard let slot = self.slots.withLock({ $0[ObjectIdentifier(loop)] }) else { return [] }
        return slot.entries.withLock { Array($0.values) }
    }

    /// Every request in flight, one a line: its description, then (with an access log) a unit
    /// separator (U+001F) and its access-log line (see `InFlightReport`). Neither part holds a
    /// control character: both are escaped.
    func report(now: ContinuousClock.Instant) -> String {
        self.slots.withLock { Array($0.values) }.flatMap { $0.entries.withLock { Array($0.values) } }
            .sorted { $0.started < $1.started }
            .map { (entry: Entry) -> String in
                let description: String = entry.description(now: now)
                guard let access = entry.accessLine(now: now) else { return description + "\n" }
                return description + "\u{1F}" + access + "\n"
            }.joined()
    }
}
