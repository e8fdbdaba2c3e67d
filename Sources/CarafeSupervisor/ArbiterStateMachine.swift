import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The master's decisions, as a pure state machine: events in (a signal, a heartbeat, a worker
/// that exited, a spawn that worked or failed, a turn of the loop with the time), actions out
/// (spawn, signal, log, tell the observer, close the listeners, exit). `Arbiter` does the I/O
/// (sockets, pipes, `waitpid`, `kill`, `posix_spawn`) and carries the actions out in order; the
/// machine reads no clock (`now` comes with each event) and touches no process, so every
/// decision is unit-tested without processes or sleeps.
///
/// Phases: `running` → (TERM with a drain delay) `draining` → `stopping` → exit. A reload (HUP)
/// is a new generation of workers inside `running`; the old one stops once the new serves.
struct ArbiterStateMachine {
    /// One worker as the master knows it (its pipe is the `Arbiter`'s).
    struct Worker: Equatable {
        /// 1, 2, 3, … in order of spawning; a replacement gets a new number.
        let number: Int
        /// 0 until `spawned(number:pid:)`.
        fileprivate(set) var pid: pid_t = 0
        /// Workers started by one reload share a generation; a HUP starts the next one.
        let generation: Int
        /// With `--reuse-port`: the slot whose sockets it serves on (0, 1, …).
        let slot: Int
        let spawnedAt: ContinuousClock.Instant
        fileprivate(set) var lastBeat: ContinuousClock.Instant
        /// Set by the first heartbeat: the worker is accepting.
        fileprivate(set) var booted = false
        /// Why the master is stopping it (it sent TERM, QUIT, ABRT or KILL), if it is.
        fileprivate(set) var retiring: String?
        /// The master killed it for missing heartbeats (not an orderly stop).
        fileprivate(set) var timedOut = false
        fileprivate(set) var signalledAt: ContinuousClock.Instant?
        fileprivate(set) var killed = false
        /// A USR1 came while it was booting: it gets one once it serves.
        fileprivate(set) var reopenLogsOnceBooted = false
        /// The requests it last said it had in flight (an `.inFlight` frame), one per line.
        fileprivate(set) var inFlight = ""
        /// Set once it passed `--max-worker-memory` or `--max-worker-age`: its replacement is
        /// starting, and it serves on until that one serves.
        fileprivate(set) var recycling: Recycling?

        var name: String { "worker \(self.number) (pid \(self.pid))" }

        /// What an `ArbiterObserver` is told about it.
        var info: ArbiterWorkerInfo { ArbiterWorkerInfo(number: self.number, pid: self.pid, lastBeat: self.lastBeat, booted: self.booted) }
    }

    struct Recycling: Equatable {
        var cause: WorkerExitCause
        var reason: String
    }

    enum Phase: Equatable {
        case running
        /// After a TERM with a drain delay: the workers answer their health path 503 and serve
        /// on; at `until` the graceful stop begins.
        case draining(until: ContinuousClock.Instant)
        /// The workers were told to stop; past `deadline` the rest are killed.
        case stopping(deadline: ContinuousClock.Instant)
    }

    enum Action: Equatable {
        case log(Logger.Level, String)
        /// Start worker `number` on slot `slot`'s sockets, then report `spawned` or `spawnFailed`.
        case spawn(number: Int, generation: Int, slot: Int)
        case signal(pid: pid_t, Int32)
        /// The whole server stops: stop listening (unless another master shares the sockets) and close them.
        case closeListeners
        /// `--reuse-port`: close the sockets of this slot; no worker serves it now.
        case closeSlot(Int)
        /// USR1: reopen the master's own log files.
        case reopenLogFiles
        /// USR2: start a new master on the same sockets.
        case upgrade
        /// The access-log lines of the requests a killed worker had in flight.
        case logKilledRequests([String])
        case workerExited(ArbiterWorkerInfo, cause: WorkerExitCause)
        case workerFailedToBoot(ArbiterWorkerInfo)
        case reloadFinished(after: Duration)
        /// Every worker is gone: clean up and exit with this status.
        case exit(Int32)
    }

    private let configuration: ArbiterConfiguration
    private(set) var phase = Phase.running
    private(set) var workers: [Worker] = []
    /// How many workers are wanted (TTIN, TTOU).
    private(set) var target: Int
    private(set) var generation = 0
    private var nextNumber = 1
    private var reloadStartedAt: ContinuousClock.Instant?
    private(set) var bootFailures = 0
    private(set) var nextSpawn: ContinuousClock.Instant
    private(set) var failure: SupervisorError?
    private var lastRecycleCheck: ContinuousClock.Instant
    /// `--reuse-port`: the slots above 0 that have sockets of their own.
    private(set) var openSlots: Set<Int> = []
    private var actions: [Action] = []

    init(configuration: ArbiterConfiguration, now: ContinuousClock.Instant) {
        self.configuration = configuration
        self.target = max(1, configuration.workers)
        self.nextSpawn = now
        self.lastRecycleCheck = now
        if configuration.reusePort { self.openSlots = Set(1..<self.target) }
    }

    /// The workers not killed yet, as the observer is told after every turn.
    var running: [ArbiterWorkerInfo] { self.workers.filter { !$0.killed }.map(\.info) }

    func worker(pid: pid_t) -> Worker? { self.workers.first { $0.pid == pid } }

    // MARK: - Events

    /// A heartbeat from `pid`: the first one means it serves.
    mutating func heartbeat(from pid: pid_t, now: ContinuousClock.Instant) -> [Action] {
        guard let index = self.index(of: pid) else { return [] }
        self.workers[index].lastBeat = now
        guard !self.workers[index].booted else { return [] }
        self.workers[index].booted = true
        self.bootFailures = 0
        self.emit(.log(.info, "\(self.workers[index].name) is serving"))
        if self.workers[index].reopenLogsOnceBooted { self.emit(.signal(pid: pid, SIGUSR1)) }
        return self.take()
    }

    /// `pid` reported the requests it has in flight.
    mutating func inFlight(_ report: String, from pid: pid_t) {
        guard let index = self.index(of: pid) else { return }
        self.workers[index].inFlight = report
    }

    /// A signal to the master.
    mutating func signal(_ signo: Int32, now: ContinuousClock.Instant) -> [Action] {
        switch signo {
        case SIGTERM:
            if self.phase == .running, self.configuration.drainDelay > .zero {
                self.emit(
                    .log(
                        .notice,
                        "received TERM: draining for \(self.configuration.drainDelay) (health checks fail, requests are served), then stopping gracefully"
                    )
                )
                self.phase = .draining(until: now + self.configuration.drainDelay)
                for worker in self.workers where !worker.killed && worker.booted { self.emit(.signal(pid: worker.pid, SIGUSR2)) }
            } else {
                self.emit(.log(.notice, "received TERM: stopping gracefully (workers get up to the graceful timeout)"))
                self.stop(graceful: true, now: now)
            }
        case SIGINT, SIGQUIT:
            self.emit(.log(.notice, "received \(signo == SIGINT ? "INT" : "QUIT"): quick stop"))
            self.stop(graceful: false, now: now)
        case SIGHUP:
            guard self.phase == .running else { break }
            self.generation += 1
            self.reloadStartedAt = now
            self.emit(.log(.notice, "received HUP: reloading: starting \(self.target) new workers from \(self.configuration.executable)"))
        case SIGUSR2:
            guard case .stopping = self.phase else {
                self.emit(.upgrade)
                break
            }
        case SIGUSR1:
            self.emit(.reopenLogFiles)
            for index in self.workers.indices where !self.workers[index].killed {
                if self.workers[index].booted {
                    self.emit(.signal(pid: self.workers[index].pid, SIGUSR1))
                } else {
                    self.workers[index].reopenLogsOnceBooted = true
                }
            }
        case SIGTTIN:
            self.target += 1
            self.emit(.log(.notice, "received TTIN: now \(self.target) workers"))
        case SIGTTOU:
            guard self.target > 1 else {
                self.emit(.log(.notice, "received TTOU: keeping the last worker"))
                break
            }
            self.target -= 1
            self.emit(.log(.notice, "received TTOU: now \(self.target) workers"))
        default:
            break
        }
        return self.take()
    }

    /// The executable on disk changed (`--reload`): a reload, as HUP.
    mutating func executableChanged(now: ContinuousClock.Instant) -> [Action] {
        self.emit(.log(.notice, "\(self.configuration.executable) changed; reloading"))
        let actions = self.take()
        return actions + self.signal(SIGHUP, now: now)
    }

    /// `spawn` worked: worker `number` runs as `pid`.
    mutating func spawned(number: Int, pid: pid_t) -> [Action] {
        guard let index = self.workers.firstIndex(where: { $0.number == number }) else { return [] }
        self.workers[index].pid = pid
        return [.log(.info, "booting \(self.workers[index].name)")]
    }

    /// `spawn` failed: counts as a boot failure.
    mutating func spawnFailed(number: Int, error: String, now: ContinuousClock.Instant) -> [Action] {
        self.workers.removeAll { $0.number == number }
        self.emit(.log(.error, "cannot start worker \(number): \(error)"))
        self.bootFailed("worker \(number): \(error)", fatal: false, now: now)
        return self.take()
    }

    /// Worker `pid` exited (`waitpid`): tell the observer why; outside a stop, a worker that
    /// never served counts as a boot failure (a boot error at once), and it is replaced on the
    /// next turn.
    mutating func exited(_ pid: pid_t, _ exit: WorkerExit, now: ContinuousClock.Instant) -> [Action] {
        guard let index = self.index(of: pid) else { return [] }
        let worker = self.workers.remove(at: index)
        let how = exit.description
        self.emit(.workerExited(worker.info, cause: Self.cause(of: worker, exit)))
        if !worker.booted, worker.retiring == nil { self.emit(.workerFailedToBoot(worker.info)) }
        if let reason = worker.retiring, !worker.timedOut {
            self.emit(.log(.info, "\(worker.name) \(how) (stopped for \(reason))"))
            return self.take()
        }
        if case .stopping = self.phase { return self.take() }
        if worker.timedOut {
            self.emit(.log(.error, "\(worker.name) \(how) after its timeout; replacing it"))
        } else if exit.isClean {
            self.emit(.log(.notice, "\(worker.name) \(how) (max requests, or its app stopped); replacing it"))
        } else {
            self.emit(.log(.error, "\(worker.name) \(how); replacing it"))
        }
        if !worker.booted { self.bootFailed(worker.name + " " + how, fatal: exit.isBootError, now: now) }
        return self.take()
    }

    /// One turn of the master's loop: drain delay, timeouts, recycling, the worker count, a
    /// reload's end; while stopping, the deadline and the exit. `residentMemory` reads a
    /// worker's resident bytes (`--max-worker-memory`).
    mutating func tick(now: ContinuousClock.Instant, residentMemory: (pid_t) -> Int? = { _ in nil }) -> [Action] {
        switch self.phase {
        case .stopping(let deadline):
            if self.workers.isEmpty {
                self.emit(.log(.notice, self.failure == nil ? "master stopped" : "master stopped after an error"))
                self.emit(.exit(self.failure == nil ? 0 : 1))
            } else if now > deadline {
                for worker in self.workers where !worker.killed {
                    self.emit(.log(.warning, "\(worker.name) still running after the graceful timeout; killing it"))
                    self.send(SIGKILL, to: worker.pid, because: "the stop deadline", now: now)
                }
            }
        case .draining(let until) where now >= until:
            self.phase = .running
            self.emit(.log(.notice, "drain delay over: stopping gracefully"))
            self.stop(graceful: true, now: now)
        case .running, .draining:
            self.checkTimeouts(now: now)
            self.checkRecycling(now: now, residentMemory: residentMemory)
            if let failure = self.failure {
                self.emit(.log(.critical, "\(failure); stopping"))
                self.stop(graceful: false, now: now)
            } else {
                self.manageWorkers(now: now)
            }
        }
        return self.take()
    }

    // MARK: - Decisions

    /// Why `worker` ended, for the observer.
    static func cause(of worker: Worker, _ exit: WorkerExit) -> WorkerExitCause {
        if worker.timedOut { return .timeout }
        if let recycling = worker.recycling { return recycling.cause }
        switch worker.retiring {
        case "a reload"?, "a failed reload"?: return .reload
        case _?: return .stopped
        case nil: return exit.isClean ? .maxRequests : .crash
        }
    }

    private mutating func bootFailed(_ what: String, fatal: Bool, now: ContinuousClock.Instant) {
        self.bootFailures += 1
        if fatal || self.bootFailures >= self.configuration.maxBootFailures {
            let reason = fatal ? "\(what) (a boot error: see its log above)" : "\(self.bootFailures) in a row; the last: \(what)"
            if self.workers.contains(where: { $0.generation < self.generation && $0.retiring == nil }) {
                // A reload whose new workers do not start: keep serving with the old ones.
                self.emit(.log(.error, "reload failed, new workers keep failing to boot (\(reason)); keeping the old workers"))
                for worker in self.workers where worker.generation == self.generation {
                    self.send(SIGKILL, to: worker.pid, because: "a failed reload", now: now)
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
        self.nextSpawn = now + delay
        self.emit(.log(.warning, "a worker failed to boot (\(self.bootFailures) in a row); next attempt in \(delay)"))
    }

    private mutating func checkTimeouts(now: ContinuousClock.Instant) {
        for index in self.workers.indices where !self.workers[index].killed {
            let worker = self.workers[index]
            if worker.timedOut || worker.retiring != nil {
                let grace: Duration = worker.timedOut ? .seconds(1) : self.configuration.gracefulTimeout + .seconds(2)
                if let at = worker.signalledAt, now - at > grace {
                    self.emit(
                        .log(
                            .error,
                            "\(worker.name) did not exit \(worker.timedOut ? "on SIGABRT" : "within the graceful timeout"); sending SIGKILL"
                        )
                    )
                    self.send(SIGKILL, to: worker.pid, because: worker.retiring ?? "a timeout", now: now)
                }
            } else if let timeout = self.configuration.timeout, now - worker.lastBeat > timeout {
                let silence = now - worker.lastBeat
                self.emit(
                    .log(
                        .error,
                        "\(worker.name) timed out: no heartbeat for \(silence.formatted) (timeout \(timeout.formatted))\(worker.booted ? "" : " while booting"); sending SIGABRT"
                    )
                )
                // What it was doing: the requests it last reported (its watchdog reports a stuck loop's at once).
                var accessLines: [String] = []
                for line in worker.inFlight.split(separator: "\n") where !line.isEmpty {
                    // "description", then U+001F and its access-log line when the worker has an access log.
                    let parts = line.split(separator: "\u{1F}", maxSplits: 1)
                    self.emit(.log(.error, "\(worker.name) had in flight: \(parts[0])"))
                    if parts.count == 2 { accessLines.append(String(parts[1])) }
                }
                if !accessLines.isEmpty { self.emit(.logKilledRequests(accessLines)) }
                self.workers[index].timedOut = true
                self.send(SIGABRT, to: worker.pid, because: "a timeout", now: now)
            }
        }
    }

    /// The current generation's workers that are neither stopping nor being recycled.
    private var current: [Worker] {
        self.workers.filter { $0.generation == self.generation && $0.retiring == nil && $0.recycling == nil }
    }

    private mutating func manageWorkers(now: ContinuousClock.Instant) {
        let current = self.current
        if current.count < self.target, now >= self.nextSpawn {
            for _ in current.count..<self.target { self.spawnWorker(now: now) }
        } else if current.count > self.target {
            for worker in current.sorted(by: { $0.number < $1.number }).prefix(current.count - self.target) {
                self.emit(.log(.info, "stopping \(worker.name): fewer workers wanted"))
                self.send(SIGTERM, to: worker.pid, because: "fewer workers", now: now)
            }
        }
        // Fewer workers (TTOU) with --reuse-port: a slot no worker serves any more closes its
        // sockets, or the kernel would go on queuing connections there for nobody.
        for slot in self.openSlots.sorted() where slot >= self.target && !self.workers.contains(where: { $0.slot == slot }) {
            self.openSlots.remove(slot)
            self.emit(.closeSlot(slot))
            self.emit(.log(.info, "--reuse-port: closed the sockets of worker slot \(slot): no worker serves it now"))
        }
        // A reload finishes once the new generation is serving in full: then the old one stops.
        let old = self.workers.filter { $0.generation < self.generation && $0.retiring == nil && $0.recycling == nil }
        let serving = current.filter(\.booted).count
        if !old.isEmpty, serving >= self.target {
            let took = self.reloadStartedAt.map { now - $0 }
            if let took { self.emit(.reloadFinished(after: took)) }
            self.emit(
                .log(
                    .notice,
                    "reload: \(serving) new workers serving\(took.map { " \($0.formatted) after HUP" } ?? ""); stopping \(old.count) old workers gracefully"
                )
            )
            for worker in old { self.send(SIGTERM, to: worker.pid, because: "a reload", now: now) }
            self.reloadStartedAt = nil
        }
    }

    private mutating func spawnWorker(now: ContinuousClock.Instant) {
        let number = self.nextNumber
        self.nextNumber += 1
        let slot = self.freeSlot()
        if self.configuration.reusePort, slot > 0 { self.openSlots.insert(slot) }
        self.workers.append(Worker(number: number, generation: self.generation, slot: slot, spawnedAt: now, lastBeat: now))
        self.emit(.spawn(number: number, generation: self.generation, slot: slot))
    }

    /// The slot for a new worker: with `reusePort`, the lowest one no running worker of this
    /// generation serves (a recycled worker's replacement takes its slot); else 0.
    private func freeSlot() -> Int {
        guard self.configuration.reusePort else { return 0 }
        let taken = Set(self.current.map(\.slot))
        return (0...).first { !taken.contains($0) }!
    }

    /// Once a second: a worker past `maxWorkerMemory` or `maxWorkerAge` is marked, so that
    /// `manageWorkers` starts its replacement; once the replacement serves, the marked worker is
    /// stopped gracefully. One worker at a time, and never during a reload, so capacity never
    /// dips below the target.
    private mutating func checkRecycling(now: ContinuousClock.Instant, residentMemory: (pid_t) -> Int?) {
        guard self.configuration.maxWorkerMemory != nil || self.configuration.maxWorkerAge != nil else { return }
        let current = self.current
        if let old = self.workers.first(where: { $0.recycling != nil && $0.retiring == nil }) {
            guard current.count >= self.target, current.allSatisfy(\.booted), let recycling = old.recycling else { return }
            self.emit(.log(.notice, "\(old.name): its replacement is serving; stopping it gracefully (\(recycling.reason))"))
            self.send(SIGTERM, to: old.pid, because: recycling.reason, now: now)
            return
        }
        guard now - self.lastRecycleCheck >= .seconds(1) else { return }
        self.lastRecycleCheck = now
        // Not while a reload, a boot or a stop is under way: those change the workers already.
        guard current.count == self.target, current.allSatisfy(\.booted),
            !self.workers.contains(where: { $0.retiring != nil && !$0.killed }),
            !self.workers.contains(where: { $0.generation < self.generation })
        else { return }
        for worker in current.sorted(by: { $0.number < $1.number }) {
            var recycling: Recycling?
            if let age = self.configuration.maxWorkerAge, now - worker.spawnedAt >= age {
                recycling = Recycling(cause: .age, reason: "--max-worker-age \(age.formatted): up for \((now - worker.spawnedAt).formatted)")
            } else if let limit = self.configuration.maxWorkerMemory, let resident = residentMemory(worker.pid), resident > limit {
                recycling = Recycling(
                    cause: .memory,
                    reason: "--max-worker-memory \(ProcessMemory.describe(limit)): resident \(ProcessMemory.describe(resident))"
                )
            }
            guard let recycling, let index = self.index(of: worker.pid) else { continue }
            self.workers[index].recycling = recycling
            self.emit(.log(.notice, "\(worker.name) passed \(recycling.reason); starting its replacement first"))
            return
        }
    }

    /// Stops listening and tells every worker to stop: TERM (finish in-flight requests) or,
    /// for a quick stop, QUIT (exit now). A second, quick stop during a graceful one hurries it.
    private mutating func stop(graceful: Bool, now: ContinuousClock.Instant) {
        if case .stopping = self.phase, graceful { return }
        self.emit(.closeListeners)
        self.openSlots = []
        for worker in self.workers where !worker.killed {
            self.send(graceful ? SIGTERM : SIGQUIT, to: worker.pid, because: graceful ? "a graceful stop" : "a quick stop", now: now)
        }
        let grace: Duration = graceful ? self.configuration.gracefulTimeout + .seconds(2) : .seconds(2)
        self.phase = .stopping(deadline: now + grace)
    }

    // MARK: - Helpers

    /// Signals `pid`, remembering why and when.
    private mutating func send(_ signo: Int32, to pid: pid_t, because reason: String, now: ContinuousClock.Instant) {
        guard let index = self.index(of: pid) else { return }
        if self.workers[index].retiring == nil { self.workers[index].retiring = reason }
        self.workers[index].signalledAt = now
        if signo == SIGKILL { self.workers[index].killed = true }
        self.emit(.signal(pid: pid, signo))
    }

    /// A spawned worker's index (a worker not spawned yet has pid 0, which is never signalled:
    /// `kill(0, …)` would signal the whole process group).
    private func index(of pid: pid_t) -> Int? { pid > 0 ? self.workers.firstIndex { $0.pid == pid } : nil }

    private mutating func emit(_ action: Action) { self.actions.append(action) }

    private mutating func take() -> [Action] {
        defer { self.actions = [] }
        return self.actions
    }
}

extension Duration {
    /// `2.5 s`: seconds with at most three decimals.
    var formatted: String {
        let milliseconds = Int64(self.components.seconds) * 1000 + self.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(Double(milliseconds) / 1000) s"
    }
}
