import CarafeHTTP

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
        let ends = try PipeEnds.open(nonBlocking: true)
        self.descriptor = ends.read
        Self.writeEnd = ends.write
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
