import NIOCore

/// Decides which of a stream of similar log lines are written: the first, then at most one per
/// `interval`, each saying how many were left out since the last. A flood of refused
/// connections (a port scan, a misconfigured balancer) then costs a line every few seconds,
/// not one per connection, and cannot fill the disk.
///
/// A pure value: the caller passes the time, so tests drive it with a manual clock.
public struct LogRateLimiter: Sendable {
    public let interval: TimeAmount
    private var lastWritten: NIODeadline?
    private var suppressed = 0

    public init(interval: TimeAmount = .seconds(10)) {
        self.interval = interval
    }

    /// What to do with a line at `now`.
    public enum Decision: Sendable, Equatable {
        /// Write it; `suppressed` lines were left out since the last one written.
        case write(suppressed: Int)
        /// Leave it out.
        case suppress
    }

    public mutating func decide(at now: NIODeadline) -> Decision {
        if let last = self.lastWritten, now - last < self.interval {
            self.suppressed += 1
            return .suppress
        }
        defer {
            self.lastWritten = now
            self.suppressed = 0
        }
        return .write(suppressed: self.suppressed)
    }
}
