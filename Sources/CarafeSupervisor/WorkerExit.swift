#if canImport(Glibc)
import Glibc
#endif

/// How a worker process ended, read from its `waitpid` status: the contract between a worker
/// and its master, so that neither side compares strings or repeats a literal status.
public enum WorkerExit: Equatable, Sendable, CustomStringConvertible {
    /// The process called `exit` with this status.
    case exited(Int32)
    /// A signal ended the process (`SIGKILL` after a timeout, `SIGABRT`, a trap's `SIGILL`).
    case killed(signal: Int32)

    /// The status a worker exits with when its app failed to boot (a bad setting, a database it
    /// cannot reach at start): the master stops instead of respawning a worker that would fail
    /// the same way. Gunicorn's `WORKER_BOOT_ERROR` is 3 as well.
    public static let bootErrorStatus: Int32 = 3

    /// Decodes a status from `waitpid`.
    public init(waitStatus status: Int32) {
        let signal = status & 0x7F
        self = signal == 0 ? .exited((status >> 8) & 0xFF) : .killed(signal: signal)
    }

    /// The worker stopped by itself with status 0: it reached `--max-requests`, or its app returned.
    public var isClean: Bool { self == .exited(0) }

    /// The worker reported that its app cannot boot.
    public var isBootError: Bool { self == .exited(Self.bootErrorStatus) }

    /// "exited with status 3", "was killed by signal 9 (Killed)", for the master's log.
    public var description: String {
        switch self {
        case .exited(let status):
            return "exited with status \(status)"
        case .killed(let signal):
            let name = strsignal(signal).map { String(cString: $0) } ?? "?"
            return "was killed by signal \(signal) (\(name))"
        }
    }
}
