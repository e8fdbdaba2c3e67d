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
    private enum State {
        case running
        case stopping(deadline: ContinuousClock.Instant)
    }

    private let configuration: ArbiterConfiguration
    private let logger: Logger
    private let reopenLogFiles: () throws -> Void
    private var listeners: [ListeningSocket] = []
    private var workers: [WorkerProcess] = []
    private var target: Int
    private var state = State.running
    private var nextNumber = 1
    private var generation = 0
    private var reloadStartedAt: ContinuousClock.Instant?
    private var bootFailures = 0
    private var nextSpawn = ContinuousClock.now
    private var failure: SupervisorError?
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
    /// After a TERM with a drain delay: when the graceful stop begins.
    private var drainingUntil: ContinuousClock.Instant?
    /// With `reusePort`: the sockets of worker slots 1, 2, … (slot 0's are `listeners`).
    private var slotListeners: [Int: [ListeningSocket]] = [:]
    /// When the workers' memory and age were last checked (`maxWorkerMemory`, `maxWorkerAge`).
    private var lastRecycleCheck = ContinuousClock.now
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
        self.target = max(1, configuration.workers)
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
                for slot in 1..<max(1, self.target) { _ = try self.sockets(forSlot: slot) }
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
            self.logger.notice("Carafe serving on \(listener.url) (master pid \(getpid()), \(self.target) workers)")
        }
        while true {
            var descriptors = [pollfd(fd: signals.descriptor, events: Int16(POLLIN), revents: 0)]
            descriptors += self.workers.filter { $0.heartbeat >= 0 }.map { pollfd(fd: $0.heartbeat, events: Int16(POLLIN), revents: 0) }
            _ = poll(&descriptors, nfds_t(descriptors.count), 200)
            for worker in self.workers {
                let events = worker.readHeartbeat()
                if events.beats > 0 { self.heard(from: worker) }
                for frame in events.frames { self.received(frame, from: worker) }
            }
            for signo in signals.take() {
                self.handle(signo)
            }
            self.reap()
            self.observer?.workersRunning(self.workers.filter { !$0.killed }.map(\.info))
            switch self.state {
            case .running:
                if let until = self.drainingUntil, ContinuousClock.now >= until {
                    self.drainingUntil = nil
                    self.logger.notice("drain delay over: stopping gracefully")
                    self.stop(graceful: true)
                    continue
                }
                if self.configuration.reloadOnChange { self.checkExecutable() }
                self.checkTimeouts()
                self.checkRecycling()
                if let failure = self.failure {
                    self.logger.critical("\(failure); stopping")
                    self.stop(graceful: false)
                } else {
                    self.manageWorkers()
                }
            case .stopping(let deadline):
                if self.workers.isEmpty {
                    self.cleanUp()
                    SignalQueue.restoreDefaults(Self.handledSignals)
                    self.logger.notice(self.failure == nil ? "master stopped" : "master stopped after an error")
                    return self.failure == nil ? 0 : 1
                }
                if ContinuousClock.now > deadline {
                    for worker in self.workers where !worker.killed {
                        self.logger.warning("\(worker.name) still running after the graceful timeout; killing it")
                        worker.signal(SIGKILL, because: "the stop deadline")
                    }
                }
            }
        }
    }

    // MARK: - Events

    private func heard(from worker: WorkerProcess) {
        worker.lastBeat = .now
        guard !worker.booted else { return }
        worker.booted = true
        self.bootFailures = 0
        self.logger.info("\(worker.name) is serving")
        if worker.reopenLogsOnceBooted { kill(worker.pid, SIGUSR1) }
    }

    private func received(_ frame: HeartbeatFrame, from worker: WorkerProcess) {
        if frame.kind == .inFlight {
            worker.inFlight = String(decoding: frame.payload, as: UTF8.self)
        }
        self.observer?.worker(worker.info, sent: frame)
    }

    /// Why `worker` ended, for the observer.
    private static func cause(of worker: WorkerProcess, _ exit: WorkerExit) -> WorkerExitCause {
        if worker.timedOut { return .timeout }
        if let recycling = worker.recycling { return recycling.cause }
        switch worker.retiring {
        case "a reload"?, "a failed reload"?: return .reload
        case _?: return .stopped
        case nil: return exit.isClean ? .maxRequests : .crash
        }
    }

    private func handle(_ signo: Int32) {
        switch signo {
        case SIGCHLD:
            break  // reaped below, on every turn of the loop
        case SIGTERM:
            if case .running = self.state, self.drainingUntil == nil, self.configuration.drainDelay > .zero {
                // The workers answer their health path 503 from now on, and serve on, so that
                // the load balancer takes this host out before the sockets close.
                self.logger.notice(
                    "received TERM: draining for \(self.configuration.drainDelay) (health checks fail, requests are served), then stopping gracefully"
                )
                self.drainingUntil = .now + self.configuration.drainDelay
                for worker in self.workers where !worker.killed && worker.booted { kill(worker.pid, SIGUSR2) }
                return
            }
            self.logger.notice("received TERM: stopping gracefully (workers get up to the graceful timeout)")
            self.stop(graceful: true)
        case SIGINT, SIGQUIT:
            self.logger.notice("received \(signo == SIGINT ? "INT" : "QUIT"): quick stop")
            self.stop(graceful: false)
        case SIGHUP:
            guard case .running = self.state, self.drainingUntil == nil else { return }
            self.generation += 1
            self.reloadStartedAt = .now
            self.logger.notice("received HUP: reloading: starting \(self.target) new workers from \(self.configuration.executable)")
        case SIGUSR2:
            self.upgrade()
        case SIGUSR1:
            self.reopenLogs()
        case SIGTTIN:
            self.target += 1
            self.logger.notice("received TTIN: now \(self.target) workers")
        case SIGTTOU:
            guard self.target > 1 else { return self.logger.notice("received TTOU: keeping the last worker") }
            self.target -= 1
            self.logger.notice("received TTOU: now \(self.target) workers")
        default:
            break
        }
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
            guard let index = self.workers.firstIndex(where: { $0.pid == pid }) else { continue }
            let worker = self.workers.remove(at: index)
            for frame in worker.readHeartbeat().frames { self.received(frame, from: worker) }  // its last report
            worker.closeHeartbeat()
            let exit = WorkerExit(waitStatus: status)
            let how = exit.description
            self.observer?.workerExited(worker.info, cause: Self.cause(of: worker, exit))
            if !worker.booted, worker.retiring == nil { self.observer?.workerFailedToBoot(worker.info) }
            if let reason = worker.retiring, !worker.timedOut {
                self.logger.info("\(worker.name) \(how) (stopped for \(reason))")
                continue
            }
            if case .stopping = self.state { continue }
            if worker.timedOut {
                self.logger.error("\(worker.name) \(how) after its timeout; replacing it")
            } else if exit.isClean {
                self.logger.notice("\(worker.name) \(how) (max requests, or its app stopped); replacing it")
            } else {
                self.logger.error("\(worker.name) \(how); replacing it")
            }
            if !worker.booted { self.bootFailed(worker.name + " " + how, fatal: exit.isBootError) }
        }
    }

    private func bootFailed(_ what: String, fatal: Bool) {
        self.bootFailures += 1
        if fatal || self.bootFailures >= self.configuration.maxBootFailures {
            let reason = fatal ? "\(what) (a boot error: see its log above)" : "\(self.bootFailures) in a row; the last: \(what)"
            if self.workers.contains(where: { $0.generation < self.generation && $0.retiring == nil }) {
                // A reload whose new workers do not start: keep serving with the old ones.
                self.logger.error("reload failed, new workers keep failing to boot (\(reason)); keeping the old workers")
                for worker in self.workers where worker.generation == self.generation {
                    worker.signal(SIGKILL, because: "a failed reload")
                }
                self.generation -= 1
                self.reloadStartedAt = nil
                self.bootFailures = 0
            } else {
                self.failure = .workersFailToBoot(reason)
            }
            return
        }
        let delay = Duration.milliseconds(100 << min(self.bootFailures - 1, 6))
        self.nextSpawn = .now + delay
        self.logger.warning("a worker failed to boot (\(self.bootFailures) in a row); next attempt in \(delay)")
    }

    // MARK: - Keeping the workers

    private func checkTimeouts() {
        let now = ContinuousClock.now
        for worker in self.workers where !worker.killed {
            if worker.timedOut || worker.retiring != nil {
                let grace: Duration = worker.timedOut ? .seconds(1) : self.configuration.gracefulTimeout + .seconds(2)
                if let at = worker.signalledAt, now - at > grace {
                    self.logger.error(
                        "\(worker.name) did not exit \(worker.timedOut ? "on SIGABRT" : "within the graceful timeout"); sending SIGKILL"
                    )
                    worker.signal(SIGKILL, because: worker.retiring ?? "a timeout")
                }
            } else if let timeout = self.configuration.timeout, now - worker.lastBeat > timeout {
                let silence = now - worker.lastBeat
                self.logger.error(
                    "\(worker.name) timed out: no heartbeat for \(silence.formatted) (timeout \(timeout.formatted))\(worker.booted ? "" : " while booting"); sending SIGABRT"
                )
                // What it was doing: the requests it last reported (its watchdog reports a stuck loop's at once).
                let _ = worker.readHeartbeat().frames.map { self.received($0, from: worker) }
                var accessLines: [String] = []
                for line in worker.inFlight.split(separator: "\n") where !line.isEmpty {
                    // "description", then U+001F and its access-log line when the worker has an access log.
                    let parts = line.split(separator: "\u{1F}", maxSplits: 1)
                    self.logger.error("\(worker.name) had in flight: \(parts[0])")
                    if parts.count == 2 { accessLines.append(String(parts[1])) }
                }
                if !accessLines.isEmpty { self.killedRequestsLog?(accessLines) }
                worker.timedOut = true
                worker.signal(SIGABRT, because: "a timeout")
            }
        }
    }

    private func manageWorkers() {
        let current = self.workers.filter { $0.generation == self.generation && $0.retiring == nil && $0.recycling == nil }
        if current.count < self.target, ContinuousClock.now >= self.nextSpawn {
            for _ in current.count..<self.target { self.spawnWorker() }
        } else if current.count > self.target {
            for worker in current.sorted(by: { $0.number < $1.number }).prefix(current.count - self.target) {
                self.logger.info("stopping \(worker.name): fewer workers wanted")
                worker.signal(SIGTERM, because: "fewer workers")
            }
        }
        // Fewer workers (TTOU) with --reuse-port: a slot no worker serves any more closes its
        // sockets, or the kernel would go on queuing connections there for nobody.
        for slot in self.slotListeners.keys where slot >= self.target && !self.workers.contains(where: { $0.slot == slot }) {
            let shared = Set(self.listeners.map(\.descriptor))
            for socket in self.slotListeners[slot] ?? [] where !shared.contains(socket.descriptor) { socket.close() }
            self.slotListeners[slot] = nil
            self.logger.info("--reuse-port: closed the sockets of worker slot \(slot): no worker serves it now")
        }
        // A reload finishes once the new generation is serving in full: then the old one stops.
        let old = self.workers.filter { $0.generation < self.generation && $0.retiring == nil && $0.recycling == nil }
        let serving = current.filter(\.booted).count
        if !old.isEmpty, serving >= self.target {
            let took = self.reloadStartedAt.map { ContinuousClock.now - $0 }
            if let took { self.observer?.reloadFinished(after: took) }
            self.logger.notice(
                "reload: \(serving) new workers serving\(took.map { " \($0.formatted) after HUP" } ?? ""); stopping \(old.count) old workers gracefully"
            )
            for worker in old { worker.signal(SIGTERM, because: "a reload") }
            self.reloadStartedAt = nil
        }
    }

    private func spawnWorker() {
        let number = self.nextNumber
        self.nextNumber += 1
        do {
            let slot = self.freeSlot()
            let worker = try WorkerProcess.spawn(
                number: number,
                generation: self.generation,
                executable: self.configuration.executable,
                arguments: self.configuration.arguments,
                listeners: try self.sockets(forSlot: slot).map(\.descriptor),
                heartbeatInterval: self.configuration.heartbeatInterval,
                slot: slot
            )
            self.workers.append(worker)
            self.logger.info("booting \(worker.name)")
        } catch {
            self.logger.error("cannot start worker \(number): \(error)")
            self.bootFailed("worker \(number): \(error)", fatal: false)
        }
    }

    // MARK: - Recycling (--max-worker-memory, --max-worker-age)

    /// Once a second: a worker past `maxWorkerMemory` or `maxWorkerAge` is marked, so that
    /// `manageWorkers` starts its replacement; once the replacement serves, the marked worker is
    /// stopped gracefully. One worker at a time, and never during a reload, so capacity never
    /// dips below the target.
    private func checkRecycling() {
        guard self.configuration.maxWorkerMemory != nil || self.configuration.maxWorkerAge != nil else { return }
        let current = self.workers.filter { $0.generation == self.generation && $0.retiring == nil && $0.recycling == nil }
        if let old = self.workers.first(where: { $0.recycling != nil && $0.retiring == nil }) {
            guard current.count >= self.target, current.allSatisfy(\.booted), let recycling = old.recycling else { return }
            self.logger.notice("\(old.name): its replacement is serving; stopping it gracefully (\(recycling.reason))")
            old.signal(SIGTERM, because: recycling.reason)
            return
        }
        let now = ContinuousClock.now
        guard now - self.lastRecycleCheck >= .seconds(1) else { return }
        self.lastRecycleCheck = now
        // Not while a reload, a boot or a stop is under way: those change the workers already.
        guard current.count == self.target, current.allSatisfy(\.booted),
            !self.workers.contains(where: { $0.retiring != nil && !$0.killed }),
            !self.workers.contains(where: { $0.generation < self.generation })
        else { return }
        for worker in current.sorted(by: { $0.number < $1.number }) {
            var recycling: (cause: WorkerExitCause, reason: String)?
            if let age = self.configuration.maxWorkerAge, now - worker.spawnedAt >= age {
                recycling = (.age, "--max-worker-age \(age.formatted): up for \((now - worker.spawnedAt).formatted)")
            } else if let limit = self.configuration.maxWorkerMemory, let resident = ProcessMemory.resident(of: worker.pid),
                resident > limit
            {
                recycling = (.memory, "--max-worker-memory \(ProcessMemory.describe(limit)): resident \(ProcessMemory.describe(resident))")
            }
            guard let recycling else { continue }
            worker.recycling = recycling
            self.logger.notice("\(worker.name) passed \(recycling.reason); starting its replacement first")
            return
        }
    }

    // MARK: - Worker slots (--reuse-port)

    /// The slot for a new worker: with `reusePort`, the lowest one no running worker of this
    /// generation serves (a recycled worker's replacement takes its slot); else 0.
    private func freeSlot() -> Int {
        guard self.configuration.reusePort else { return 0 }
        let taken = Set(self.workers.filter { $0.generation == self.generation && $0.retiring == nil && $0.recycling == nil }.map(\.slot))
        return (0...).first { !taken.contains($0) }!
    }

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

    /// USR1: reopens the master's log files and has every worker reopen its own. A worker that
    /// is still booting (its USR1 handler may not be installed yet) is told once it serves.
    private func reopenLogs() {
        do {
            try self.reopenLogFiles()
            self.logger.notice("received USR1: reopened log files; telling the workers to")
        } catch {
            self.logger.error("received USR1: \(error)")
        }
        for worker in self.workers where !worker.killed {
            if worker.booted {
                kill(worker.pid, SIGUSR1)
            } else {
                worker.reopenLogsOnceBooted = true
            }
        }
    }

    /// USR2: starts a new master from the executable on disk, handing it the sockets (at 3, 4, …
    /// with `CARAFE_UPGRADE_FDS`). Both serve until this one is stopped, as in Gunicorn.
    private func upgrade() {
        guard case .running = self.state else { return }
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

    /// Stops listening and tells every worker to stop: TERM (finish in-flight requests) or,
    /// for a quick stop, QUIT (exit now). A second, quick stop during a graceful one hurries it.
    private func stop(graceful: Bool) {
        if case .stopping = self.state, graceful { return }
        // The whole server stops: new connections are refused from now on, not queued and reset
        // when the last worker lets go of the socket. Not after USR2 (the new master serves on
        // it), nor while the old master this one took it over from lives (a rollback).
        let shared = self.upgradedMaster != nil || self.previousMaster.map { kill($0, 0) == 0 } == true
        if !shared {
            self.listeners.forEach { $0.stopListening() }
            self.slotListeners.values.joined().forEach { $0.stopListening() }
        }
        self.closeSlotSockets()
        self.listeners.forEach { $0.close(keepingFile: self.upgradedMaster != nil) }
        self.listeners = []
        for worker in self.workers where !worker.killed {
            worker.signal(graceful ? SIGTERM : SIGQUIT, because: graceful ? "a graceful stop" : "a quick stop")
        }
        let grace: Duration = graceful ? self.configuration.gracefulTimeout + .seconds(2) : .seconds(2)
        self.state = .stopping(deadline: .now + grace)
    }

    private func cleanUp() {
        self.closeSlotSockets()
        self.listeners.forEach { $0.close(keepingFile: self.upgradedMaster != nil) }
        self.listeners = []
        if let pidFile = self.pidFile { unlink(pidFile) }
    }

    /// Reloads once the executable has a new modification time that has not changed for a second.
    private func checkExecutable() {
        guard let now = Self.modificationTime(of: self.configuration.executable) else { return }
        guard let known = self.executableVersion, !Self.same(now, known) else {
            self.changedVersion = nil
            return
        }
        guard let changed = self.changedVersion, Self.same(changed.version, now) else {
            self.changedVersion = (now, .now)
            return
        }
        guard ContinuousClock.now - changed.since >= .seconds(1) else { return }
        self.executableVersion = now
        self.changedVersion = nil
        self.logger.notice("\(self.configuration.executable) changed; reloading")
        self.handle(SIGHUP)
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

extension Duration {
    /// `2.5 s`: seconds with at most three decimals.
    var formatted: String {
        let milliseconds = TimeAmount(self).nanoseconds / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(Double(milliseconds) / 1000) s"
    }
}
