import Glibc
import Testing

@testable import CarafeSupervisor

/// The master's decisions (`ArbiterStateMachine`) given events and a manual clock: which
/// actions. No processes, no sockets, no sleeps; pids are made up (1000 + the worker's number).
@Suite struct ArbiterStateMachineTests {
    typealias Machine = ArbiterStateMachine
    typealias Action = ArbiterStateMachine.Action

    /// The manual clock: an instant, moved by hand.
    let t0 = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { self.t0 + .milliseconds(Int64(seconds * 1000)) }

    func configuration(workers: Int = 2, _ change: (inout ArbiterConfiguration) -> Void = { _ in }) -> ArbiterConfiguration {
        var configuration = ArbiterConfiguration(
            workers: workers,
            bind: [.hostPort(host: "127.0.0.1", port: 0)],
            timeout: .seconds(10),
            gracefulTimeout: .seconds(5),
            executable: "/app",
            arguments: ["/app", "serve"],
            maxBootFailures: 3
        )
        change(&configuration)
        return configuration
    }

    static func pid(_ number: Int) -> pid_t { pid_t(1000 + number) }

    /// Carries out the spawns in `actions` as a master would (each succeeds), and returns the rest.
    @discardableResult
    func spawning(_ actions: [Action], on m: inout Machine) -> [Action] {
        var rest: [Action] = []
        for action in actions {
            guard case .spawn(let number, _, _) = action else {
                rest.append(action)
                continue
            }
            rest += m.spawned(number: number, pid: Self.pid(number))
        }
        return rest
    }

    /// The spawn actions of `actions`.
    func spawns(_ actions: [Action]) -> [(number: Int, generation: Int, slot: Int)] {
        actions.compactMap { if case .spawn(let n, let g, let s) = $0 { (n, g, s) } else { nil } }
    }

    func signals(_ actions: [Action]) -> [(pid: pid_t, signo: Int32)] {
        actions.compactMap { if case .signal(let pid, let signo) = $0 { (pid, signo) } else { nil } }
    }

    func logs(_ actions: [Action]) -> [String] {
        actions.compactMap { if case .log(_, let message) = $0 { message } else { nil } }
    }

    /// A master whose `workers` workers were spawned and beat once (all serving).
    func serving(workers: Int = 2, _ change: (inout ArbiterConfiguration) -> Void = { _ in }) -> Machine {
        var m = Machine(configuration: self.configuration(workers: workers, change), now: self.at(0))
        let spawned = self.spawns(m.tick(now: self.at(0)))
        #expect(spawned.map(\.number) == Array(1...workers))
        for worker in spawned {
            _ = m.spawned(number: worker.number, pid: Self.pid(worker.number))
            _ = m.heartbeat(from: Self.pid(worker.number), now: self.at(0.1))
        }
        return m
    }

    // MARK: Starting and replacing

    @Test func theFirstTurnSpawnsTheTargetAndTheFirstBeatMeansServing() {
        var m = Machine(configuration: self.configuration(workers: 3), now: self.at(0))
        let first = m.tick(now: self.at(0))
        #expect(self.spawns(first).map(\.number) == [1, 2, 3])
        let logs = self.spawning(first, on: &m)
        #expect(self.logs(logs) == ["booting worker 1 (pid 1001)", "booting worker 2 (pid 1002)", "booting worker 3 (pid 1003)"])
        #expect(self.spawns(m.tick(now: self.at(0.2))).isEmpty, "spawned workers count even before they serve")
        #expect(self.logs(m.heartbeat(from: Self.pid(1), now: self.at(0.3))) == ["worker 1 (pid 1001) is serving"])
        #expect(m.heartbeat(from: Self.pid(1), now: self.at(0.4)).isEmpty, "only the first beat says so")
    }

    @Test func aCrashedWorkerIsReplacedOnTheNextTurn() {
        var m = self.serving()
        let exit = m.exited(Self.pid(1), .killed(signal: SIGSEGV), now: self.at(1))
        #expect(exit.contains(.workerExited(.init(number: 1, pid: 1001, lastBeat: self.at(0.1), booted: true), cause: .crash)))
        #expect(self.logs(exit).contains { $0.hasPrefix("worker 1 (pid 1001) was killed by signal 11") && $0.hasSuffix("; replacing it") })
        #expect(m.bootFailures == 0, "it had served: not a boot failure")
        #expect(self.spawns(m.tick(now: self.at(1))).map(\.number) == [3])
    }

    @Test func aCleanExitIsCountedAsMaxRequestsAndReplaced() {
        var m = self.serving()
        let exit = m.exited(Self.pid(2), .exited(0), now: self.at(1))
        #expect(exit.contains { if case .workerExited(_, .maxRequests) = $0 { true } else { false } })
        #expect(self.spawns(m.tick(now: self.at(1))).count == 1)
    }

    // MARK: Boot failures

    @Test func workersDyingBeforeTheyServeBackOffExponentiallyThenTheMasterGivesUp() {
        var m = Machine(configuration: self.configuration(workers: 1), now: self.at(0))
        var now = 0.0
        for (attempt, backOff) in [(1, 0.1), (2, 0.2)] {
            let spawned = self.spawns(m.tick(now: self.at(now)))
            #expect(spawned.count == 1, "attempt \(attempt)")
            _ = m.spawned(number: spawned[0].number, pid: Self.pid(spawned[0].number))
            let exit = m.exited(Self.pid(spawned[0].number), .exited(1), now: self.at(now))
            #expect(exit.contains { if case .workerFailedToBoot = $0 { true } else { false } })
            #expect(self.logs(exit).last == "a worker failed to boot (\(attempt) in a row); next attempt in \(Duration.milliseconds(Int(backOff * 1000)))")
            #expect(m.bootFailures == attempt)
            #expect(self.spawns(m.tick(now: self.at(now + backOff - 0.01))).isEmpty, "not before the back-off")
            now += backOff
        }
        let third = self.spawns(m.tick(now: self.at(now)))
        _ = m.spawned(number: third[0].number, pid: Self.pid(third[0].number))
        _ = m.exited(Self.pid(third[0].number), .exited(1), now: self.at(now))
        let stop = m.tick(now: self.at(now))
        #expect(self.logs(stop).first?.hasPrefix("workers keep failing to boot: 3 in a row; the last: worker 3 (pid 1003) exited with status 1") == true)
        #expect(stop.contains(.closeListeners))
        #expect(m.failure != nil)
        #expect(m.tick(now: self.at(now)).suffix(1) == [.exit(1)], "no workers left: exit 1")
    }

    @Test func aBootErrorStatusStopsTheMasterAtOnce() {
        var m = Machine(configuration: self.configuration(workers: 1), now: self.at(0))
        self.spawning(m.tick(now: self.at(0)), on: &m)
        _ = m.exited(Self.pid(1), .exited(WorkerExit.bootErrorStatus), now: self.at(0.5))
        let stop = m.tick(now: self.at(0.5))
        #expect(self.logs(stop).first == "workers keep failing to boot: worker 1 (pid 1001) exited with status 3 (a boot error: see its log above); stopping")
        #expect(m.tick(now: self.at(0.6)) == [.log(.notice, "master stopped after an error"), .exit(1)])
    }

    @Test func aFailedSpawnCountsAsABootFailure() {
        var m = Machine(configuration: self.configuration(workers: 1), now: self.at(0))
        let spawned = self.spawns(m.tick(now: self.at(0)))
        let failed = m.spawnFailed(number: spawned[0].number, error: "posix_spawn: ENOMEM", now: self.at(0))
        #expect(self.logs(failed).first == "cannot start worker 1: posix_spawn: ENOMEM")
        #expect(m.bootFailures == 1 && m.workers.isEmpty)
    }

    // MARK: Timeouts

    @Test func aSilentWorkerGetsSIGABRTThenSIGKILLASecondLater() {
        var m = self.serving(workers: 1)
        m.inFlight("GET /slow (request id 7)\u{1F}127.0.0.1 - - \"GET /slow\" 504", from: Self.pid(1))
        #expect(self.signals(m.tick(now: self.at(10))).isEmpty, "10 s since the beat: not past the timeout yet")
        let timeout = m.tick(now: self.at(10.2))
        #expect(self.signals(timeout).map(\.signo) == [SIGABRT])
        #expect(self.spawns(timeout).map(\.number) == [2], "its replacement starts at once")
        #expect(self.logs(timeout).contains("worker 1 (pid 1001) had in flight: GET /slow (request id 7)"))
        #expect(timeout.contains(.logKilledRequests(["127.0.0.1 - - \"GET /slow\" 504"])))
        #expect(self.signals(m.tick(now: self.at(11.1))).isEmpty, "a second to exit on SIGABRT")
        #expect(self.signals(m.tick(now: self.at(11.3))).map(\.signo) == [SIGKILL])
        let exit = m.exited(Self.pid(1), .killed(signal: SIGKILL), now: self.at(11.4))
        #expect(exit.contains { if case .workerExited(_, .timeout) = $0 { true } else { false } })
        #expect(self.logs(exit) == ["worker 1 (pid 1001) was killed by signal 9 (Killed) after its timeout; replacing it"])
        #expect(self.spawns(m.tick(now: self.at(11.4))).isEmpty, "replaced already")
    }

    // MARK: TTIN, TTOU

    @Test func ttinAddsAWorkerAndTtouStopsTheOldestButNeverTheLast() {
        var m = self.serving(workers: 2)
        _ = m.signal(SIGTTIN, now: self.at(1))
        #expect(self.spawns(m.tick(now: self.at(1))).map(\.number) == [3])
        _ = m.spawned(number: 3, pid: Self.pid(3))
        #expect(self.logs(m.signal(SIGTTOU, now: self.at(2))) == ["received TTOU: now 2 workers"])
        let fewer = m.tick(now: self.at(2))
        #expect(self.signals(fewer).map { $0.pid } == [Self.pid(1)])
        #expect(self.signals(fewer).map { $0.signo } == [SIGTERM])
        _ = m.exited(Self.pid(1), .exited(0), now: self.at(2.5))
        _ = m.signal(SIGTTOU, now: self.at(3))
        _ = m.tick(now: self.at(3))
        #expect(self.logs(m.signal(SIGTTOU, now: self.at(4))) == ["received TTOU: keeping the last worker"])
        #expect(m.target == 1)
    }

    @Test func ttouWithReusePortClosesTheSocketsOfASlotNoWorkerServes() {
        var m = self.serving(workers: 3) { $0.reusePort = true }
        #expect(m.openSlots == [1, 2], "slot 0 shares the master's sockets")
        #expect(m.workers.map(\.slot) == [0, 1, 2])
        _ = m.signal(SIGTTOU, now: self.at(1))
        _ = m.signal(SIGTTOU, now: self.at(1))
        #expect(self.signals(m.tick(now: self.at(1))).map(\.pid) == [Self.pid(1), Self.pid(2)], "the oldest stop")
        _ = m.exited(Self.pid(1), .exited(0), now: self.at(1.5))
        #expect(!m.tick(now: self.at(1.6)).contains(.closeSlot(1)), "worker 2 still serves slot 1")
        _ = m.exited(Self.pid(2), .exited(0), now: self.at(2))
        let closed = m.tick(now: self.at(2.1))
        #expect(closed.contains(.closeSlot(1)))
        #expect(!closed.contains(.closeSlot(2)), "worker 3 serves slot 2")
        #expect(m.openSlots == [2])
    }

    // MARK: Reload

    @Test func hupStartsANewGenerationAndStopsTheOldOnceTheNewServesInFull() {
        var m = self.serving(workers: 2)
        _ = m.signal(SIGHUP, now: self.at(1))
        let new = self.spawns(m.tick(now: self.at(1)))
        #expect(new.map(\.generation) == [1, 1])
        #expect(new.map(\.number) == [3, 4])
        self.spawning(new.map { .spawn(number: $0.number, generation: $0.generation, slot: $0.slot) }, on: &m)
        _ = m.heartbeat(from: Self.pid(3), now: self.at(1.5))
        #expect(self.signals(m.tick(now: self.at(1.5))).isEmpty, "one of two new workers serves: the old ones stay")
        _ = m.heartbeat(from: Self.pid(4), now: self.at(2.5))
        let done = m.tick(now: self.at(2.5))
        #expect(self.signals(done).map(\.pid) == [Self.pid(1), Self.pid(2)])
        #expect(done.contains(.reloadFinished(after: .milliseconds(1500))))
        let exit = m.exited(Self.pid(1), .exited(0), now: self.at(3))
        #expect(exit.contains { if case .workerExited(_, .reload) = $0 { true } else { false } })
        #expect(self.logs(exit) == ["worker 1 (pid 1001) exited with status 0 (stopped for a reload)"])
    }

    @Test func aReloadWhoseNewWorkersCannotBootKeepsTheOldOnes() {
        var m = self.serving(workers: 1)
        _ = m.signal(SIGHUP, now: self.at(1))
        var now = 1.0
        for attempt in 1...3 {
            let new = self.spawns(m.tick(now: self.at(now)))
            #expect(new.count == 1, "attempt \(attempt)")
            _ = m.spawned(number: new[0].number, pid: Self.pid(new[0].number))
            let exit = m.exited(Self.pid(new[0].number), .exited(1), now: self.at(now))
            if attempt == 3 {
                #expect(self.logs(exit).last?.hasPrefix("reload failed, new workers keep failing to boot") == true)
            }
            now += 1
        }
        #expect(m.generation == 0)
        #expect(m.failure == nil, "the old worker serves on")
        #expect(self.spawns(m.tick(now: self.at(now))).isEmpty)
    }

    @Test func hupIsIgnoredWhileStopping() {
        var m = self.serving()
        _ = m.signal(SIGTERM, now: self.at(1))
        _ = m.signal(SIGHUP, now: self.at(1.1))
        #expect(m.generation == 0)
    }

    // MARK: Recycling

    @Test func aWorkerPastItsMaxAgeIsReplacedFirstThenStopped() {
        var m = self.serving(workers: 1) {
            $0.maxWorkerAge = .seconds(60)
            $0.timeout = nil  // no heartbeats in this test
        }
        #expect(self.spawns(m.tick(now: self.at(59))).isEmpty)
        let marked = m.tick(now: self.at(61))
        #expect(self.logs(marked).first == "worker 1 (pid 1001) passed --max-worker-age 60 s: up for 61 s; starting its replacement first")
        #expect(self.spawns(marked).map(\.number) == [2], "the replacement starts in the same turn")
        #expect(self.signals(marked).isEmpty, "the old one serves until the new one does")
        _ = m.spawned(number: 2, pid: Self.pid(2))
        #expect(self.signals(m.tick(now: self.at(62))).isEmpty)
        _ = m.heartbeat(from: Self.pid(2), now: self.at(62.5))
        let stop = m.tick(now: self.at(62.5))
        #expect(self.signals(stop).map(\.pid) == [Self.pid(1)])
        let exit = m.exited(Self.pid(1), .exited(0), now: self.at(63))
        #expect(exit.contains { if case .workerExited(_, .age) = $0 { true } else { false } })
    }

    @Test func aWorkerPastItsMemoryLimitIsRecycledOnlyOnceASecond() {
        var m = self.serving(workers: 2) { $0.maxWorkerMemory = 100 << 20 }
        let memory: (pid_t) -> Int? = { $0 == Self.pid(2) ? 200 << 20 : 10 << 20 }
        #expect(m.tick(now: self.at(0.5), residentMemory: memory).isEmpty, "checked once a second")
        let marked = m.tick(now: self.at(1), residentMemory: memory)
        #expect(self.logs(marked).first == "worker 2 (pid 1002) passed --max-worker-memory 100.0 MiB: resident 200.0 MiB; starting its replacement first")
    }

    // MARK: Stopping

    @Test func termStopsGracefullyAndKillsWhatOutlastsTheDeadline() {
        var m = self.serving(workers: 2)
        let stop = m.signal(SIGTERM, now: self.at(1))
        #expect(stop.contains(.closeListeners))
        #expect(self.signals(stop).map(\.signo) == [SIGTERM, SIGTERM])
        #expect(m.phase == .stopping(deadline: self.at(8)), "the graceful timeout plus 2 s")
        _ = m.exited(Self.pid(1), .exited(0), now: self.at(2))
        #expect(self.spawns(m.tick(now: self.at(2))).isEmpty, "no replacement while stopping")
        #expect(self.signals(m.tick(now: self.at(8.1))).map(\.signo) == [SIGKILL])
        _ = m.exited(Self.pid(2), .killed(signal: SIGKILL), now: self.at(8.2))
        #expect(m.tick(now: self.at(8.3)) == [.log(.notice, "master stopped"), .exit(0)])
    }

    @Test func termWithADrainDelayTellsTheWorkersThenStopsAfterTheDelay() {
        var m = self.serving(workers: 2) { $0.drainDelay = .seconds(3) }
        let drain = m.signal(SIGTERM, now: self.at(1))
        #expect(self.signals(drain).map(\.signo) == [SIGUSR2, SIGUSR2])
        #expect(m.phase == .draining(until: self.at(4)))
        #expect(!m.tick(now: self.at(3.9)).contains(.closeListeners))
        let stop = m.tick(now: self.at(4))
        #expect(stop.contains(.closeListeners))
        #expect(self.signals(stop).map(\.signo) == [SIGTERM, SIGTERM])
    }

    @Test func aQuickStopDuringAGracefulOneHurriesIt() {
        var m = self.serving(workers: 1)
        _ = m.signal(SIGTERM, now: self.at(1))
        #expect(self.signals(m.signal(SIGTERM, now: self.at(1.1))).isEmpty, "a second TERM changes nothing")
        let quick = m.signal(SIGINT, now: self.at(1.2))
        #expect(self.signals(quick).map(\.signo) == [SIGQUIT])
        #expect(m.phase == .stopping(deadline: self.at(3.2)))
    }

    @Test func usr1ReopensLogsAndTellsABootingWorkerOnceItServes() {
        var m = Machine(configuration: self.configuration(workers: 1), now: self.at(0))
        self.spawning(m.tick(now: self.at(0)), on: &m)
        let reopen = m.signal(SIGUSR1, now: self.at(0.1))
        #expect(reopen == [.reopenLogFiles], "the worker boots: no USR1 yet")
        let served = m.heartbeat(from: Self.pid(1), now: self.at(0.2))
        #expect(self.signals(served).map(\.signo) == [SIGUSR1])
    }

    @Test func usr2UpgradesOnlyWhileRunning() {
        var m = self.serving(workers: 1)
        #expect(m.signal(SIGUSR2, now: self.at(1)) == [.upgrade])
        _ = m.signal(SIGQUIT, now: self.at(2))
        #expect(m.signal(SIGUSR2, now: self.at(2.1)).isEmpty)
    }
}
