import CarafeHTTP

#if canImport(Glibc)
import Glibc
#endif

/// How the master runs its workers. The names and defaults are Gunicorn's.
public struct ArbiterConfiguration: Sendable {
    /// Workers to keep running (`--workers`; TTIN and TTOU change it at run time).
    public var workers: Int
    /// Where to listen (`--bind`); the master binds these and hands them to every worker.
    public var bind: [BindAddress]
    /// A worker silent for this long is killed and replaced (`--timeout`); nil never.
    public var timeout: Duration?
    /// How long workers may finish in-flight requests at a graceful stop or reload
    /// (`--graceful-timeout`). The master kills what is left after it.
    public var gracefulTimeout: Duration
    /// Where to write the master's pid (`--pid`); removed at exit.
    public var pidFile: String?
    /// The umask for Unix socket files (`--umask`).
    public var umask: mode_t?
    /// The program workers run: the path of this executable as it is on disk now, so that a
    /// reload (HUP) runs a rebuilt binary.
    public var executable: String
    /// The workers' arguments, argv[0] included: by default the master's own.
    public var arguments: [String]
    /// Workers that die before they are ready, in a row, after which the master gives up.
    public var maxBootFailures: Int
    /// Reload (as on HUP) when the executable's modification time changes (`--reload`), for
    /// development: rebuild, and the new build serves.
    public var reloadOnChange: Bool
    /// On TERM, how long the workers go on serving (their health path failing) before the
    /// graceful stop begins (`--drain-delay`): a load balancer's probe interval.
    public var drainDelay: Duration
    /// A worker whose resident memory passes this many bytes is recycled (`--max-worker-memory`):
    /// its replacement starts first, and it is stopped gracefully once the replacement serves.
    public var maxWorkerMemory: Int?
    /// A worker older than this is recycled the same way (`--max-worker-age`).
    public var maxWorkerAge: Duration?
    /// The listening sockets' backlog (`--backlog`).
    public var backlog: Int32 = 1024
    /// One `SO_REUSEPORT` socket per worker slot (`--reuse-port`): the kernel spreads new
    /// connections evenly over the workers instead of waking whichever accepts first. The master
    /// holds each slot's socket, and a slot's replacement worker gets it, so the connections
    /// queued on it are served, not refused.
    public var reusePort = false
    /// The user and group to run as once the sockets are bound (`--user`, `--group`): the
    /// master drops its privileges before it starts any worker.
    public var user: uid_t?
    public var group: gid_t?
    /// The app's name in process titles: `carafe: master [NAME]`, `carafe: worker 1 [NAME]`.
    public var processName: String?

    /// Gunicorn's defaults: a 30 s timeout and graceful timeout; this executable and its arguments.
    public init(
        workers: Int,
        bind: [BindAddress],
        timeout: Duration? = .seconds(30),
        gracefulTimeout: Duration = .seconds(30),
        pidFile: String? = nil,
        umask: mode_t? = nil,
        executable: String = ArbiterConfiguration.currentExecutable(),
        arguments: [String] = CommandLine.arguments,
        maxBootFailures: Int = 5,
        reloadOnChange: Bool = false,
        drainDelay: Duration = .zero
    ) {
        self.workers = workers
        self.bind = bind
        self.timeout = timeout
        self.gracefulTimeout = gracefulTimeout
        self.pidFile = pidFile
        self.umask = umask
        self.executable = executable
        self.arguments = arguments
        self.maxBootFailures = maxBootFailures
        self.reloadOnChange = reloadOnChange
        self.drainDelay = drainDelay
    }

    /// How often workers beat: a quarter of the timeout, between 0.1 and 1 second.
    var heartbeatInterval: Duration {
        guard let timeout else { return .seconds(1) }
        return min(.seconds(1), max(.milliseconds(100), timeout / 4))
    }

    /// The path `/proc/self/exe` points to, or `/proc/self/exe` itself if it cannot be read.
    public static func currentExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return "/proc/self/exe" }
        let path = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path.hasSuffix(" (deleted)") ? "/proc/self/exe" : path
    }
}
