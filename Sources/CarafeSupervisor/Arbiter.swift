import CarafeHTTP
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The supervising master, modelled on Gunicorn's arbiter. It binds the listening sockets,
/// starts the workers (re-executions of this program that serve on those sockets), and keeps
/// `workers` of them running:
///
/// - a worker that exits or crashes is replaced at once (a SIGCHLD wakes the loop);
/// - a worker silent for `timeout` (no heartbeat: an event loop is blocked) gets SIGABRT, then
///   SIGKILL a second later, and is replaced;
/// - workers that die before they are ready back off exponentially, and after
///   `maxBootFailures` in a row the master stops with an error instead of spinning.
///
/// Signals to the master:
///
/// | signal | action |
/// |---|---|
/// | TERM | graceful stop: workers finish in-flight requests within `gracefulTimeout`; exit 0. With a `drainDelay`, the workers first get USR2 (their health path answers 503) and serve on for the delay |
/// | INT, QUIT | quick stop: workers exit at once |
/// | HUP | reload: start new workers from the executable on disk; once all are serving, stop the old ones gracefully |
/// | TTIN, TTOU | one worker more, one fewer |
/// | USR2 | binary upgrade: start a new master (and its workers) from the executable on disk, on the same sockets; the pid file becomes `FILE.oldbin`; TERM the old master once the new one serves |
/// | USR1 | reopen log files: the master's own (`reopenLogFiles`), then each worker's (the worker reopens them on USR1) |
///
/// With `reloadOnChange`, a change of the executable's modification time reloads as HUP does.
public final class Arbiter {
    private let configuration: ArbiterConfiguration
    private let logger: Logger
    private let reopenLogFiles: () throws -> Void
    /// Every decision: the phase, the workers and what the master knows of them, the target,
    /// reloads, boot failures, recycling. The rest of this type is I/O.
    private var machine: ArbiterStateMachine
    private var listeners: [ListeningSocket] = []
    /// The running workers' processes (pid and heartbeat pipe), by pid.
    private var processes: [pid_t: WorkerProcess] = [:]
    /// Where this master's pid is written: `--pid`, or `--pid` + `.oldbin` after a USR2.
    private var pidFile: String?
    /// The master started by USR2, while it runs.
    private var upgradedMaster: pid_t?
    /// After a binary upgrade, the old master this one took the sockets over from: while it
    /// lives (a rollback), stopping here must not stop the sockets listening for it.
    private var previousMaster: pid_t?
    /// The executable's modification time as last seen, and since when a new one has been
    /// stable (`reloadOnChange`): a build being written is not started half-way.
    private var executableVersion: timespec?
    private var changedVersion: (version: timespec, since: ContinuousClock.Instant)?
    /// With `reusePort`: the sockets of worker slots 1, 2, … (slot 0's are `listeners`).
    private var slotListeners: [Int: [ListeningSocket]] = [:]
    /// Set once the machine said `.exit`.
    private var exitStatus: Int32?
    /// Given the access-log lines of the requests a worker had in flight when the master killed
    /// it for `timeout` (each with status 504); the app writes them to its access log.
    public var killedRequestsLog: (([String]) -> Void)?
    /// Told of the workers' reports, exits and boot failures (`CarafeMetrics` aggregates them).
    /// Set it before `run()`.
    public var observer: (any ArbiterObserver)?

    static let handledSignals = [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGTTIN, SIGTTOU, SIGCHLD, SIGUSR1, SIGUSR2]
    /// Set for a master started by USR2: the sockets it inherits, as descriptor numbers.
    static let upgradeVariable = "CARAFE_UPGRADE_FDS"

    /// A master that runs `configuration`'s workers and logs to `logger`; on USR1 it calls
    /// `reopenLogFiles` for the files `logger` writes to. Nothing starts before `run()`.
    public init(configuration: ArbiterConfiguration, logger: Logger, reopenLogFiles: @escaping () throws -> Void = {}) {
        self.configuration = configuration
        self.logger = logger
        self.reopenLogFiles = reopenLogFiles
        self.machine = ArbiterStateMachine(configuration: configuration, now: .now)
    }

    /// Binds, starts the workers and supervises them until stopped. Returns the exit status:
    /// 0 after a stop by signal, 1 if the sockets could not be bound or workers kept failing.
    public func run() -> Int32 {
        let signals: SignalQueue
        do {
            signals = try SignalQueue(signals: Self.handledSignals)
            if let inherited = getenv(Self.upgradeVariable).map({ String(cString: $0) }) {
                unsetenv(Self.upgradeVariable)
                for fd in inherited.split(separator: ",").compactMap({ Int32($0) }) {
                    self.listeners.append(try ListeningSocket.adopt(fd, ownsFile: true))
                }
                self.previousMaster = getppid()
                self.logger.notice("binary upgrade: took over \(self.listeners.count) sockets from the old master (pid \(getppid()))")
            } else {
                for address in self.configuration.bind {
                    self.listeners.append(
                        try ListeningSocket.bind(
                            address,
                            umask: self.configuration.umask,
                            backlog: self.configuration.backlog,
                            reusePort: self.configuration.reusePort
                        )
                    )
                }
            }
            if self.configuration.reusePort {
                for slot in self.machine.openSlots.sorted() { _ = try self.sockets(forSlot: slot) }
            }
            self.pidFile = self.configuration.pidFile
            if let pidFile = self.pidFile { try Self.write("\(getpid())\n", to: pidFile) }
            try Privileges.drop(user: self.configuration.user, group: self.configuration.group)
        } catch {
            self.logger.critical("\(error)")
            self.cleanUp()
            return 1
        }
        self.executableVersion = Self.modificationTime(of: self.configuration.executable)
        ProcessTitle.set("carafe: master" + (self.configuration.processName.map { " [\($0)]" } ?? ""))
        for listener in self.listeners {
            self.logger.notice("Carafe serving on \(listener.url) (master pid \(getpid()), \(self.machine.target) workers)")
        }
        while self.exitStatus == nil {
            var descriptors = [pollfd(fd: signals.descriptor, events: Int16(POLLIN), revents: 0)]
            descriptors += self.processes.values.filter { $0.heartbeat >= 0 }.map { pollfd(fd: $0.heartbeat, events: Int16(POLLIN), revents: 0) }
            _ = poll(&descriptors, nfds_t(descriptors.count), 200)
            self.readHeartbeats()
            for signo in signals.take() where signo != SIGCHLD {  // SIGCHLD: reaped below, on every turn
                self.carryOut(self.machine.signal(signo, now: .now))
            }
            self.reap()
            self.observer?.workersRunning(self.machine.running)
            if self.configuration.reloadOnChange, self.machine.phase == .running, self.executableChanged() {
                self.carryOut(self.machine.executableChanged(now: .now))
            }
            // A report that came since (a stuck loop's watchdog reports at once) is there before a timeout kill.
            self.readHeartbeats()
            self.carryOut(self.machine.tick(now: .now, residentMemory: ProcessMemory.resident(of:)))
        }
        self.cleanUp()
        SignalQueue.restoreDefaults(Self.handledSignals)
        return self.exitStatus ?? 0
    }

    // MARK: - Carrying out the machine's actions

    private func carryOut(_ actions: [ArbiterStateMachine.Action]) {
        for action in actions {
            switch action {
            case .log(let level, let message):
                self.logger.log(level: level, "\(message)")
            case .spawn(let number, _, let slot):
                self.spawnWorker(number: number, slot: slot)
            case .signal(let pid, let signo):
                if pid > 0 { kill(pid, signo) }
            case .closeListeners:
                self.closeListeners()
            case .closeSlot(let slot):
                let shared = Set(self.listeners.map(\.descriptor))
                for socket in self.slotListeners[slot] ?? [] where !shared.contains(socket.descriptor) { socket.close() }
                self.slotListeners[slot] = nil
            case .reopenLogFiles:
                do {
                    try self.reopenLogFiles()
                    self.logger.notice("received USR1: reopened log files; telling the workers to")
                } catch {
                    self.logger.error("received USR1: \(error)")
                }
            case .upgrade:
                self.upgrade()
            case .logKilledRequests(let lines):
                self.killedRequestsLog?(lines)
            case .workerExited(let info, let cause):
                self.observer?.workerExited(info, cause: cause)
            case .workerFailedToBoot(let info):
                self.observer?.workerFailedToBoot(info)
            case .reloadFinished(let duration):
                self.observer?.reloadFinished(after: duration)
            case .exit(let status):
                self.exitStatus = status
            }
        }
    }

    /// Reads every worker's pipe: beats (the first says it serves) and frames (reports).
    private func readHeartbeats() {
        for process in self.processes.values {
            let events = process.readHeartbeat()
            if events.beats > 0 { self.carryOut(self.machine.heartbeat(from: process.pid, now: .now)) }
            for frame in events.frames { self.received(frame, from: process.pid) }
        }
    }

    private func received(_ frame: HeartbeatFrame, from pid: pid_t) {
        if frame.kind == .inFlight {
            self.machine.inFlight(String(decoding: frame.payload, as: UTF8.self), from: pid)
        }
        if let worker = self.machine.worker(pid: pid) { self.observer?.worker(worker.info, sent: frame) }
    }

    /// Collects every exited worker and logs how it ended.
    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return }
            if pid == self.upgradedMaster {
                self.logger.error(
                    "the new master (pid \(pid)) \(WorkerExit(waitStatus: status)); this master (pid \(getpid())) keeps serving"
                )
                self.upgradedMaster = nil
                if let pidFile = self.pidFile, let original = self.configuration.pidFile {
                    rename(pidFile, original)
                    self.pidFile = original
                }
                continue
            }
            guard let process = self.processes.removeValue(forKey: pid) else { continue }
            for frame in process.readHeartbeat().frames { self.received(frame, from: pid) }  // its last report
            process.closeHeartbeat()
            self.carryOut(self.machine.exited(pid, WorkerExit(waitStatus: status), now: .now))
        }
    }

    private func spawnWorker(number: Int, slot: Int) {
        do {
            let process = try WorkerProcess.spawn(
                number: number,
                executable: self.configuration.executable,
                arguments: self.configuration.arguments,
                listeners: try self.sockets(forSlot: slot).map(\.descriptor),
                heartbeatInterval: self.configuration.heartbeatInterval
            )
            self.processes[process.pid] = process
            self.carryOut(self.machine.spawned(number: number, pid: process.pid))
        } catch {
            self.carryOut(self.machine.spawnFailed(number: number, error: "\(error)", now: .now))
        }
    }

    // MARK: - Worker slots (--reuse-port)

    /// The sockets of worker slot `slot`: the shared ones for slot 0 (and for Unix and inherited
    /// sockets, which `SO_REUSEPORT` does not split); for another slot, TCP sockets of its own on
    /// the same addresses, bound on first use and held by the master from then on.
    private func sockets(forSlot slot: Int) throws -> [ListeningSocket] {
        guard slot > 0, self.configuration.reusePort, self.listeners.count == self.configuration.bind.count else { return self.listeners }
        if let known = self.slotListeners[slot] { return known }
        var sockets: [ListeningSocket] = []
        for (listener, address) in zip(self.listeners, self.configuration.bind) {
            guard case .hostPort(let host, _) = address, let port = listener.port else {
                sockets.append(listener)
                continue
            }
            do {
                sockets.append(
                    try ListeningSocket.bind(.hostPort(host: host, port: port), backlog: self.configuration.backlog, reusePort: true)
                )
            } catch {
                // After the privileges were dropped a low port cannot be bound again: share slot 0's.
                self.logger.error("--reuse-port: cannot bind a socket for worker slot \(slot) (\(error)); it shares slot 0's")
                sockets.append(listener)
            }
        }
        self.slotListeners[slot] = sockets
        return sockets
    }

    /// Closes the slots' own sockets (not slot 0's, which some slots share).
    private func closeSlotSockets() {
        let shared = Set(self.listeners.map(\.descriptor))
        for socket in self.slotListeners.values.joined() where !shared.contains(socket.descriptor) { socket.close() }
        self.slotListeners = [:]
    }

    /// USR2: starts a new master from the executable on disk, handing it the sockets (at 3, 4, …
    /// with `CARAFE_UPGRADE_FDS`). Both serve until this one is stopped, as in Gunicorn.
    private func upgrade() {
        if let running = self.upgradedMaster {
            return self.logger.warning("received USR2, but the new master (pid \(running)) is still running; ignored")
        }
        if let pidFile = self.pidFile {
            rename(pidFile, pidFile + ".oldbin")
            self.pidFile = pidFile + ".oldbin"
        }
        do {
            let numbers = self.listeners.indices.map { String(3 + $0) }.joined(separator: ",")
            let pid = try ChildProcess.spawn(
                executable: self.configuration.executable,
                arguments: self.configuration.arguments,
                descriptors: self.listeners.map(\.descriptor),
                environment: ["\(Self.upgradeVariable)=\(numbers)"]
            )
            self.upgradedMaster = pid
            self.logger.notice(
                "received USR2: started a new master (pid \(pid)) from \(self.configuration.executable) on the same sockets; send TERM to this one (pid \(getpid())) once it serves"
            )
        } catch {
            self.logger.error("received USR2, but cannot start a new master: \(error)")
            if let pidFile = self.pidFile, let original = self.configuration.pidFile {
                rename(pidFile, original)
                self.pidFile = original
            }
        }
    }

    /// The whole server stops: new connections are refused from now on, not queued and reset
    /// when the last worker lets go of the socket. Not after USR2 (the new master serves on it),
    /// nor while the old master this one took it over from lives (a rollback).
    private func closeListeners() {
        let shared = self.upgradedMaster != nil || self.previousMaster.map { kill($0, 0) == 0 } == true
        if !shared {
            self.listeners.forEach { $0.stopListening() }
            self.slotListeners.values.joined().forEach { $0.stopListening() }
        }
        self.closeSlotSockets()
        self.listeners.forEach { $0.close(keepingFile: self.upgradedMaster != nil) }
        self.listeners = []
    }

    private func cleanUp() {
        self.closeSlotSockets()
        self.listeners.forEach { $0.close(keepingFile: self.upgradedMaster != nil) }
        self.listeners = []
        if let pidFile = self.pidFile { unlink(pidFile) }
    }

    /// Whether the executable has a new modification time that has not changed for a second.
    private func executableChanged() -> Bool {
        guard let now = Self.modificationTime(of: self.configuration.executable) else { return false }
        guard let known = self.executableVersion, !Self.same(now, known) else {
            self.changedVersion = nil
            return false
        }
        guard let changed = self.changedVersion, Self.same(changed.version, now) else {
            self.changedVersion = (now, .now)
            return false
        }
        guard ContinuousClock.now - changed.since >= .seconds(1) else { return false }
        self.executableVersion = now
        self.changedVersion = nil
        return true
    }

    // MARK: - Helpers

    static func modificationTime(of path: String) -> timespec? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mtim : nil
    }

    static func same(_ a: timespec, _ b: timespec) -> Bool { a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec }

    private static func write(_ text: String, to path: String) throws {
        // O_NOFOLLOW: a symbolic link planted at the path is refused, not followed to overwrite
        // whatever it points at (the master often runs with more rights than the link's maker).
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw SupervisorError.system("open(\(path))", errno) }
        defer { close(fd) }
        var text = text
        _ = text.withUTF8 { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}
