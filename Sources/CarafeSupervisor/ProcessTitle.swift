#if canImport(Glibc)
import Glibc
#endif

/// The title `ps` and `top` show for a process: `carafe: master [hello]`, `carafe: worker 2
/// [hello]`, as Gunicorn's setproctitle gives, so an operator sees which process is which.
///
/// Two places hold it on Linux: the command line (`ps -f`, `/proc/PID/cmdline`), rewritten in
/// place in the memory of the process's original arguments (so it is cut to their length), and
/// the 15-byte thread name of the main thread (`ps -o comm`, `top`), which PR_SET_NAME sets
/// for the calling thread; it is written through `/proc/self/task/PID/comm` here, so it is the
/// main thread's whichever thread calls.
public enum ProcessTitle {
    /// Sets the title. Reads `CommandLine.arguments` first, so the program's arguments stay
    /// what they were.
    public static func set(_ title: String) {
        _ = CommandLine.arguments
        Self.setCommandLine(title)
        Self.setThreadName(title)
    }

    /// The main thread's name: `title` without `:` and `[…]`, cut to 15 bytes (`carafe worker 2`).
    static func threadName(_ title: String) -> String {
        let plain = title.split(separator: "[").first.map(String.init) ?? title
        let name = plain.replacingColons().split(separator: " ").joined(separator: " ")
        return String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self)
    }

    private static func setThreadName(_ title: String) {
        let fd = open("/proc/self/task/\(getpid())/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var name = Self.threadName(title)
        name.withUTF8 { bytes in _ = write(fd, bytes.baseAddress, bytes.count) }
    }

    /// Overwrites the original argument strings (contiguous in memory from argv[0]) with
    /// `title`, padded with NUL bytes.
    private static func setCommandLine(_ title: String) {
        let argc = Int(CommandLine.argc)
        let argv = CommandLine.unsafeArgv
        guard argc > 0, let first = argv[0] else { return }
        var end = first + strlen(first)
        for index in 1..<max(1, argc) {
            guard let argument = argv[index], argument == end + 1 else { break }  // not contiguous: stop there
            end = argument + strlen(argument)
        }
        let capacity = end - first  // bytes before the last NUL
        guard capacity > 0 else { return }
        let bytes = Array(title.utf8.prefix(capacity))
        memset(first, 0, capacity + 1)
        bytes.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { _ = memcpy(first, base, buffer.count) }
        }
    }
}

extension String {
    fileprivate func replacingColons() -> String {
        String(self.map { $0 == ":" ? " " : $0 })
    }
}
