#if canImport(Glibc)
import Glibc
#endif

/// Starting a program from the master: `posix_spawn` (never `fork`: the master has threads),
/// with chosen descriptors at 3, 4, …, every signal's default action and an empty signal mask
/// (the master ignores or catches signals the child must not inherit), and the master's
/// environment without Carafe's and systemd's hand-over variables, plus `environment`.
enum ChildProcess {
    /// Variables that describe one hand-over and must not leak into another process.
    static let handOverVariables = WorkerContext.variables + [Arbiter.upgradeVariable, "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]

    /// Starts `executable` with `arguments` (argv[0] included); `descriptors[i]` becomes the
    /// child's descriptor 3 + i. The descriptors must be at least `ListeningSocket.firstHighDescriptor`
    /// or already at their target, so that no dup2 overwrites a later source.
    static func spawn(executable: String, arguments: [String], descriptors: [Int32], environment: [String]) throws -> pid_t {
        Self.markAllCloseOnExec()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (index, fd) in descriptors.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, fd, Int32(3 + index))  // dup2 clears close-on-exec
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let inherited = Self.currentEnvironment().filter { entry in
            !Self.handOverVariables.contains { entry.hasPrefix($0 + "=") }
        }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = (inherited + environment).map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SupervisorError.system("posix_spawn(\(executable))", result) }
        return pid
    }

    /// Sets close-on-exec on every descriptor from 3 up, so that the child gets only what the
    /// file actions give it. The master's own descriptors already have it; this catches what the
    /// master inherited (a parent's pipes and sockets, which would otherwise keep a parent
    /// waiting for the end of a process that has long exited).
    private static func markAllCloseOnExec() {
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let fd = Int32(name), fd >= 3 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0, flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    private static func currentEnvironment() -> [String] {
        var entries: [String] = []
        var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        while let current = pointer, let entry = current.pointee {
            entries.append(String(cString: entry))
            pointer = current.successor()
        }
        return entries
    }
}
