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

    /// Beats at once, then every interval.
    public func start() {
        let group = self.group
        let interval = TimeAmount.nanoseconds(Int64(self.context.heartbeatInterval.components.seconds) * 1_000_000_000
            + self.context.heartbeatInterval.components.attoseconds / 1_000_000_000)
        let first = group.next()
        let task = first.scheduleRepeatedAsyncTask(initialDelay: .zero, delay: interval) { [self] _ in
            guard !self.stopped.load(ordering: .relaxed) else { return first.makeSucceededVoidFuture() }
            let visits = group.makeIterator().map { loop in loop.submit {} }
            return EventLoopFuture.andAllSucceed(visits, on: first).map { self.beat() }
        }
        self.task.withLock { $0 = task }
    }

    /// Stops beating; call it before the event loops stop (`HTTPServer.beforeEventLoopsStop`).
    public func stop() {
        guard !self.stopped.exchange(true, ordering: .relaxed) else { return }
        self.task.withLock { $0?.cancel() }
    }

    private func beat() {
        var byte: UInt8 = 0x2E
        let written = write(self.context.heartbeatDescriptor, &byte, 1)
        let broken = written < 0 && errno == EPIPE
        if broken || self.context.masterIsGone, !self.masterGone.exchange(true, ordering: .relaxed) {
            self.logger.critical("the master (pid \(self.context.masterPID)) is gone; worker \(self.context.number) shutting down")
            self.stop()
            self.onMasterGone()
        }
    }
}
