import CarafeHTTP

#if canImport(Glibc)
import Glibc
#endif

/// What a worker process learns from its master, through its environment:
///
/// - `CARAFE_WORKER`: the worker's number (1, 2, … in order of spawning);
/// - `CARAFE_LISTEN_FDS`: the listening sockets, as descriptor numbers (`3,4`);
/// - `CARAFE_HEARTBEAT_FD`: the write end of the pipe the master watches;
/// - `CARAFE_HEARTBEAT_MS`: how often to write to it;
/// - `CARAFE_MASTER_PID`: the master, so that a worker whose master died exits.
public struct WorkerContext: Sendable {
    /// The worker's number, for logs: 1, 2, … in order of spawning.
    public let number: Int
    /// The listening sockets shared with the master and the other workers.
    public let listenDescriptors: [Int32]
    /// The write end of the heartbeat pipe.
    public let heartbeatDescriptor: Int32
    /// How often to beat.
    public let heartbeatInterval: Duration
    /// The master that started this worker.
    public let masterPID: pid_t

    static let variables = ["CARAFE_WORKER", "CARAFE_LISTEN_FDS", "CARAFE_HEARTBEAT_FD", "CARAFE_HEARTBEAT_MS", "CARAFE_MASTER_PID"]

    /// The context of this process if a master started it, else nil. Removes the variables from
    /// the environment, so that processes the app starts are not mistaken for workers.
    public static func fromEnvironment() -> WorkerContext? {
        func value(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        defer { Self.variables.forEach { unsetenv($0) } }
        guard let number = value("CARAFE_WORKER").flatMap(Int.init),
            let fds = value("CARAFE_LISTEN_FDS"),
            let heartbeat = value("CARAFE_HEARTBEAT_FD").flatMap(Int32.init),
            let master = value("CARAFE_MASTER_PID").flatMap(pid_t.init)
        else { return nil }
        let interval = value("CARAFE_HEARTBEAT_MS").flatMap(Int64.init) ?? 1000
        return WorkerContext(
            number: number,
            listenDescriptors: fds.split(separator: ",").compactMap { Int32($0) },
            heartbeatDescriptor: heartbeat,
            heartbeatInterval: .milliseconds(interval),
            masterPID: master
        )
    }

    /// The sockets to serve on, as the server's configuration names them.
    public var bindAddresses: [BindAddress] { self.listenDescriptors.map(BindAddress.fileDescriptor) }

    /// Whether the master that started this worker is gone (the worker was reparented).
    public var masterIsGone: Bool { getppid() != self.masterPID }
}
