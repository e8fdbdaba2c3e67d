import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A worker's sign of life to its master: one byte on the heartbeat pipe every interval, but
/// only after every event loop of the server has run a no-op task. A loop blocked by a handler
/// (a `sleep`, a busy loop, a deadlock) therefore stops the heartbeat, and the master kills the
/// worker after `--timeout`. The first beat also tells the master the worker is serving.
///
/// If the master is gone (the pipe is broken, or the worker was reparented), `onMasterGone`
/// is called once, so that the worker can shut down instead of serving unsupervised.
public final class WorkerHeartbeat: Sendable {
    private let context: WorkerContext
    private let group: any EventLoopGroup
    private let logger: Logger
    private let onMasterGone: @Sendable () -> Void
    private let task = Mutex<RepeatedTask?>(nil)
    private let masterGone = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// Bytes not yet taken by the (non-blocking) pipe, written before anything else.
    private let pending = Mutex<[UInt8]>([])
    private let reporter = Mutex<(@Sendable () -> [HeartbeatFrame])?>(nil)

    /// A heartbeat for the worker described by `context`, whose server runs on `group`. Ignores
    /// SIGPIPE in this process, so that a broken pipe is an error code and not death.
    public init(context: WorkerContext, group: any EventLoopGroup, logger: Logger, onMasterGone: @escaping @Sendable () -> Void) {
        self.context = context
        self.group = group
        self.logger = logger
        self.onMasterGone = onMasterGone
        // A write to a pipe whose reader is gone must fail with EPIPE, not kill the worker.
        _ = signal(SIGPIPE, SIG_IGN)
        let flags = fcntl(context.heartbeatDescriptor, F_GETFL)
        _ = fcntl(context.heartbeatDescriptor, F_SETFL, flags | O_NONBLOCK)
        _ = fcntl(context.heartbeatDescriptor, F_SETFD, FD_CLOEXEC)
    }

    /// Called on every beat, and once more when the heartbeat stops: the frames to send with
    /// the beat (a metrics report, the requests in flight). Set it before `start()`.
    public func report(_ body: @escaping @Sendable () -> [HeartbeatFrame]) {
        self.reporter.withLock { $0 = body }
    }

    /// Sends `frame` now, from any thread (a watchdog's, while the loops are stuck). It counts
    /// as no beat.
    public func send(_ frame: HeartbeatFrame) {
        _ = self.write(frame.encoded)
    }

    /// Beats at once, then every interval.
    public func start() {
        let group = self.group
        let interval = TimeAmount(self.context.heartbeatInterval)
        let first = group.next()
        let task = first.scheduleRepeatedAsyncTask(initialDelay: .zero, delay: interval) { [self] _ in
            guard !self.stopped.load(ordering: .relaxed) else { return first.makeSucceededVoidFuture() }
            let visits = group.makeIterator().map { loop in loop.submit {} }
            return EventLoopFuture.andAllSucceed(visits, on: first).map { self.beat() }
        }
        self.task.withLock { $0 = task }
    }

    /// Stops beating; call it before the event loops stop (`HTTPServer.beforeEventLoopsStop`).
    /// The last report goes out first (waiting up to a second for the pipe), so the master
    /// counts every request this worker served.
    public func stop() {
        guard !self.stopped.exchange(true, ordering: .relaxed) else { return }
        self.task.withLock { $0?.cancel() }
        if let report = self.reporter.withLock({ $0 }) {
            for frame in report() { _ = self.write(frame.encoded) }
            let deadline = ContinuousClock.now + .seconds(1)
            while !self.pending.withLock({ $0.isEmpty }), ContinuousClock.now < deadline {
                var descriptor = pollfd(fd: self.context.heartbeatDescriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&descriptor, 1, 50)
                guard self.write([]) else { break }
            }
        }
    }

    /// Queues `bytes` after what is pending and writes as much as the pipe takes; false if the
    /// pipe is broken (the master is gone).
    private func write(_ bytes: [UInt8]) -> Bool {
        self.pending.withLock { pending in
            pending += bytes
            while !pending.isEmpty {
                let written = pending.withUnsafeBytes { Glibc.write(self.context.heartbeatDescriptor, $0.baseAddress, $0.count) }
                if written > 0 {
                    pending.removeFirst(written)
                    continue
                }
                if written < 0 && errno == EINTR { continue }
                if written < 0 && errno == EPIPE { return false }
                break  // full: the rest goes with the next beat
            }
            if pending.count > HeartbeatFrame.maxPayload * 2 { pending.removeAll() }  // a master that reads nothing
            return true
        }
    }

    private func beat() {
        let frames = self.reporter.withLock { $0 }?() ?? []
        let broken = !self.write(frames.flatMap(\.encoded) + [HeartbeatFrame.beat])
        if broken || self.context.masterIsGone, !self.masterGone.exchange(true, ordering: .relaxed) {
            self.logger.critical("the master (pid \(self.context.masterPID)) is gone; worker \(self.context.number) shutting down")
            self.stop()
            self.onMasterGone()
        }
    }
}
