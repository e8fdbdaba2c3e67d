/// Told by the master (`Arbiter`) what happens to its workers, on the master's own thread:
/// the hook that `CarafeMetrics` uses to aggregate the workers' metrics and to add what only the
/// master knows (restarts by cause, boot failures, heartbeat ages, reload durations). Each call
/// must return quickly: the master's loop waits for it.
public protocol ArbiterObserver: AnyObject {
    /// A worker sent a frame on its heartbeat pipe.
    func worker(_ worker: ArbiterWorkerInfo, sent frame: HeartbeatFrame)
    /// A worker exited; `cause` says why, as a metric label would (see `WorkerExitCause`).
    func workerExited(_ worker: ArbiterWorkerInfo, cause: WorkerExitCause)
    /// A worker died before it served.
    func workerFailedToBoot(_ worker: ArbiterWorkerInfo)
    /// The workers running now, after every turn of the master's loop (about 5 times a second).
    func workersRunning(_ workers: [ArbiterWorkerInfo])
    /// A reload (HUP) finished: all new workers serve, `duration` after the HUP.
    func reloadFinished(after duration: Duration)
}

/// A worker, as the master describes it to an `ArbiterObserver`.
public struct ArbiterWorkerInfo: Sendable, Equatable {
    /// 1, 2, … in order of spawning.
    public var number: Int
    public var pid: Int32
    /// When the master last heard a beat from it.
    public var lastBeat: ContinuousClock.Instant
    /// Whether it has started serving.
    public var booted: Bool

    public init(number: Int, pid: Int32, lastBeat: ContinuousClock.Instant, booted: Bool) {
        self.number = number
        self.pid = pid
        self.lastBeat = lastBeat
        self.booted = booted
    }
}

/// Why a worker stopped, as the metric `carafe_worker_restarts_total{cause=…}` labels it.
public enum WorkerExitCause: String, Sendable, CaseIterable {
    /// It crashed or was killed by someone else than the master.
    case crash
    /// The master killed it for missing heartbeats (`--timeout`).
    case timeout
    /// It exited by itself with status 0: `--max-requests`, or its app stopped.
    case maxRequests = "max_requests"
    /// A reload (HUP) replaced it.
    case reload
    /// Fewer workers were wanted (TTOU), or the master stopped.
    case stopped
    /// It passed `--max-worker-memory` and was replaced.
    case memory
    /// It passed `--max-worker-age` and was replaced.
    case age
}
