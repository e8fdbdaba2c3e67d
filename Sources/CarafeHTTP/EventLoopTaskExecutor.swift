import NIOCore

/// A `TaskExecutor` that runs jobs on one NIO event loop.
///
/// A request's task is started with this executor as its preference, so the handler's
/// non-isolated async code runs on the thread that owns the connection: no thread hop
/// between reading a request, running its handler and writing the response.
public final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    /// The loop every job runs on.
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
