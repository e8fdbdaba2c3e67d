#if canImport(Glibc)
import Glibc
#endif

/// Signals for the master, handled in its loop rather than in a signal handler: the handler
/// only writes the signal's number to a pipe (the self-pipe trick, as Gunicorn's arbiter does),
/// which also wakes the loop's `poll`.
final class SignalQueue {
    /// The pipe's write end, read by the handler. Set once, before any handler is installed.
    nonisolated(unsafe) private static var writeEnd: Int32 = -1

    /// The pipe's read end, for `poll`.
    let descriptor: Int32

    /// Installs the handler for `signals`. Only one queue may exist in a process.
    init(signals: [Int32]) throws {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw SupervisorError.system("pipe", errno) }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        self.descriptor = ends[0]
        Self.writeEnd = ends[1]
        for signo in signals {
            _ = signal(signo) { signo in
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: signo)
                _ = write(SignalQueue.writeEnd, &byte, 1)
                errno = saved
            }
        }
    }

    /// The signals received since the last call, in order.
    func take() -> [Int32] {
        var signals: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = read(self.descriptor, &buffer, buffer.count)
            guard count > 0 else { break }
            signals += buffer[..<count].map { Int32($0) }
        }
        return signals
    }

    /// Puts the default action back for `signals`.
    static func restoreDefaults(_ signals: [Int32]) {
        for signo in signals { _ = signal(signo, SIG_DFL) }
    }
}
