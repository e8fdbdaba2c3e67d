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
    ///
    /// Throws (a `WorkerContextError` naming the variable and its value) when the variables
    /// are there but wrong: such a process must not go on to serve as if nobody had started it.
    public static func fromEnvironment() throws(WorkerContextError) -> WorkerContext? {
        var environment: [String: String] = [:]
        for name in Self.variables {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        Self.variables.forEach { unsetenv($0) }
        return try Self.parse(environment)
    }

    /// The context that `environment` (the `CARAFE_*` variables) describes: nil when none of
    /// them is set (not a worker), else every required one must be there and well formed.
    /// Pure, so that each rule is tested without a process.
    public static func parse(_ environment: [String: String]) throws(WorkerContextError) -> WorkerContext? {
        guard Self.variables.contains(where: { environment[$0] != nil }) else { return nil }
        func required(_ name: String) throws(WorkerContextError) -> String {
            guard let value = environment[name] else {
                let present = Self.variables.filter { environment[$0] != nil }.joined(separator: ", ")
                throw WorkerContextError(name, nil, "is not set (\(present) \(present.contains(",") ? "are" : "is"))")
            }
            return value
        }
        /// Decimal digits only (no sign, no spaces), at least `minimum`.
        func integer<T: FixedWidthInteger>(_ text: Substring, atLeast minimum: T) -> T? {
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let value = T(text),
                value >= minimum
            else { return nil }
            return value
        }
        func integer<T: FixedWidthInteger>(_ name: String, atLeast minimum: T, _ what: String) throws(WorkerContextError) -> T {
            let text = try required(name)
            guard let value: T = integer(Substring(text), atLeast: minimum) else { throw WorkerContextError(name, text, "must be \(what)") }
            return value
        }
        let number: Int = try integer("CARAFE_WORKER", atLeast: 1, "a worker number of 1 or more")
        let fdsText = try required("CARAFE_LISTEN_FDS")
        var fds: [Int32] = []
        for part in fdsText.split(separator: ",", omittingEmptySubsequences: false) {
            guard let fd: Int32 = integer(part, atLeast: 3) else {
                throw WorkerContextError(
                    "CARAFE_LISTEN_FDS",
                    fdsText,
                    "has \"\(part)\": it must be a comma-separated list of descriptor numbers of 3 or more, such as 3,4"
                )
            }
            guard !fds.contains(fd) else { throw WorkerContextError("CARAFE_LISTEN_FDS", fdsText, "names descriptor \(fd) twice") }
            fds.append(fd)
        }
        let heartbeat: Int32 = try integer("CARAFE_HEARTBEAT_FD", atLeast: 3, "a descriptor number of 3 or more")
        guard !fds.contains(heartbeat) else {
            throw WorkerContextError("CARAFE_HEARTBEAT_FD", String(heartbeat), "is also a listening socket in CARAFE_LISTEN_FDS=\(fdsText)")
        }
        let interval: Int64 =
            environment["CARAFE_HEARTBEAT_MS"] == nil
            ? 1000 : try integer("CARAFE_HEARTBEAT_MS", atLeast: 1, "a number of milliseconds of 1 or more")
        let master: pid_t = try integer("CARAFE_MASTER_PID", atLeast: 1, "a process id of 1 or more")
        return WorkerContext(
            number: number,
            listenDescriptors: fds,
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

/// A worker's environment that is there but wrong: which variable, its value, and what it
/// must be. The worker exits with `WorkerExit.bootErrorStatus` instead of serving.
public struct WorkerContextError: Error, CustomStringConvertible, Equatable {
    /// The variable at fault: `CARAFE_LISTEN_FDS`.
    public let variable: String
    /// Its value, or nil when it is missing.
    public let value: String?
    /// What is wrong with it.
    public let problem: String

    init(_ variable: String, _ value: String?, _ problem: String) {
        self.variable = variable
        self.value = value
        self.problem = problem
    }

    public var description: String {
        let subject = self.value.map { "\(self.variable)=\"\($0)\"" } ?? self.variable
        return "this process was started as a worker, but \(subject) \(self.problem)"
    }
}
