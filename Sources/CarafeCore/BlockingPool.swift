import NIOCore
import NIOPosix
import Synchronization

/// A bounded pool of threads for code that blocks its thread: handlers of `blocking: true`
/// routes, every handler under `--worker-class threads`, password hashing.
///
/// It is a `TaskExecutor`: a request that runs here is an ordinary task whose jobs run on the
/// pool's threads (`withTaskExecutorPreference`), so a handler may block (a synchronous SDK, a C
/// library, file I/O) and may still `await`: while it awaits, it holds no thread.
///
/// Its queue is bounded. `admit()` refuses new work at once, with `BlockingPoolFull` (a 503 with
/// `Retry-After`), while `queueLimit` jobs are already waiting for a thread: past that, a client
/// would only wait longer and longer (gevent's and gthread's failure mode under overload), and a
/// quick 503 lets a load balancer try elsewhere. Work already admitted is never refused: the
/// jobs of a request that has started (after an `await`) always run.
public final class BlockingPool: TaskExecutor, Sendable {
    /// The threads that run the work.
    public let threads: Int
    /// Jobs that may wait for a thread before new work is refused.
    public let queueLimit: Int
    /// Named in the 503's message: the setting that raises the limit (`--thread-queue-limit`).
    public let limitName: String
    private let pool: NIOThreadPool
    private let ownsPool: Bool
    private let waitingJobs = Atomic<Int>(0)
    private let runningJobs = Atomic<Int>(0)

    /// A pool of `threads` threads of its own, started now.
    public init(threads: Int, queueLimit: Int, limitName: String) {
        self.threads = max(1, threads)
        self.queueLimit = max(0, queueLimit)
        self.limitName = limitName
        self.pool = NIOThreadPool(numberOfThreads: self.threads)
        self.pool.start()
        self.ownsPool = true
    }

    /// Runs on `pool`, which someone else started and stops (NIO's shared pool, say), with a
    /// queue bound of this pool's own: only the work submitted here counts against it.
    public init(sharing pool: NIOThreadPool, queueLimit: Int, limitName: String) {
        self.threads = pool.numberOfThreads
        self.queueLimit = max(0, queueLimit)
        self.limitName = limitName
        self.pool = pool
        self.ownsPool = false
    }

    deinit {
        if self.ownsPool { self.pool.shutdownGracefully { _ in } }
    }

    /// Jobs submitted here and not yet started on a thread.
    public var waiting: Int { self.waitingJobs.load(ordering: .relaxed) }
    /// Jobs submitted here that are running on a thread now (blocked ones included).
    public var running: Int { self.runningJobs.load(ordering: .relaxed) }

    /// Throws `BlockingPoolFull` if `queueLimit` jobs are waiting: call it before new work.
    public func admit() throws {
        let waiting = self.waiting
        if waiting >= self.queueLimit {
            throw BlockingPoolFull(waiting: waiting, threads: self.threads, queueLimit: self.queueLimit, limitName: self.limitName)
        }
    }

    /// Runs `body` on a pool thread, unless the queue is full (`admit()`): then throws at once.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try self.admit()
        return try await self.runIfActive(body)
    }

    /// Runs `body` on a pool thread, whatever the queue holds: for work already admitted (the
    /// next chunk of a file being sent, say). Throws if the pool has stopped.
    public func runIfActive<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            self.waitingJobs.add(1, ordering: .relaxed)
            self.pool.submit { state in
                self.waitingJobs.subtract(1, ordering: .relaxed)
                guard case .active = state else { return continuation.resume(throwing: NIOThreadPoolError.ThreadPoolInactive()) }
                self.runningJobs.add(1, ordering: .relaxed)
                let result = Result(catching: body)
                self.runningJobs.subtract(1, ordering: .relaxed)
                continuation.resume(with: result)
            }
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.waitingJobs.add(1, ordering: .relaxed)
        self.pool.submit { _ in
            // A stopped pool still runs the job (on the thread that submitted it): a task's
            // job must run, or the task never ends.
            self.waitingJobs.subtract(1, ordering: .relaxed)
            self.runningJobs.add(1, ordering: .relaxed)
            job.runSynchronously(on: self.asUnownedTaskExecutor())
            self.runningJobs.subtract(1, ordering: .relaxed)
        }
    }
}

/// New work was refused: the pool's queue is full. A 503 with `Retry-After: 1`, whose message
/// names the limit and how to raise it.
public struct BlockingPoolFull: Error, HTTPErrorConvertible, CustomStringConvertible {
    public let waiting: Int
    public let threads: Int
    public let queueLimit: Int
    public let limitName: String

    public var description: String {
        "The server is busy: \(self.waiting) jobs are already waiting for one of \(self.threads) threads (the limit is \(self.queueLimit), \(self.limitName)). Retry later."
    }

    public var httpError: HTTPError {
        HTTPError(.serviceUnavailable, self.description, headers: ["retry-after": "1"])
    }
}
