import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The two ends of a new pipe, both close-on-exec so that a child process gets an end only when
/// it is handed one on purpose: the wake-up pipes of the shared-socket acceptor and the signal
/// queue, and each worker's heartbeat pipe.
public struct PipeEnds: Sendable {
    public let read: Int32
    public let write: Int32

    /// Opens a pipe; `nonBlocking` for ends that a loop polls (a full pipe must not block a writer
    /// such as a signal handler).
    public static func open(nonBlocking: Bool) throws -> PipeEnds {
        // pipe2 would set the flags atomically, but Glibc's Swift module does not export it; the
        // processes here spawn only from the master's loop, so no exec can come in between.
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw IOError(errnoCode: errno, reason: "pipe()") }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            if nonBlocking { _ = fcntl(end, F_SETFL, O_NONBLOCK) }
        }
        return PipeEnds(read: ends[0], write: ends[1])
    }
}
