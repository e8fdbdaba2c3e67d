import Foundation
import ProcessTestSupport
import Testing

/// `serve --workers N` run as a user runs it: a master and its worker processes, real sockets
/// on 127.0.0.1, real signals. `SupervisorProbe` has routes that block the loop and trap.
///
/// Serialized: each test runs several processes, and the machine has two cores.
@Suite(.serialized) struct SupervisorTests {
    static let probe = builtExecutable("SupervisorProbe")

    /// A master with `workers` workers on a free port, once all of them serve.
    static func master(_ workers: Int, _ arguments: [String] = []) throws -> ServerProcess {
        let server = try ServerProcess(
            Self.probe,
            ["serve", "--workers", "\(workers)", "--bind", "127.0.0.1:0", "--log-level", "info"] + arguments
        )
        let ready = eventually(timeout: 20) { Self.serving(server) >= workers && childPIDs(of: server.pid).count == workers }
        guard ready else { throw ServerDidNotStart(output: server.output) }
        return server
    }

    /// How many workers have said they serve.
    static func serving(_ server: ServerProcess) -> Int {
        server.output.components(separatedBy: ") is serving").count - 1
    }

    static func get(_ server: ServerProcess, _ path: String) throws -> String {
        try curl(["http://127.0.0.1:\(server.port)\(path)"])
    }

    /// Whether `pid` runs (a zombie, exited but not yet reaped by its parent, does not).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return false
        }
        return !stat[stat.index(after: close)...].hasPrefix(" Z")
    }

    @Test func aKilledWorkerIsReplacedAndOnlyItsRequestsFail() async throws {
        let server = try Self.master(2)
        let before = childPIDs(of: server.pid)
        let load = LoadClient(port: server.port, path: "/pid", connections: 4)
        #expect(eventually(timeout: 10) { load.current.succeeded >= 50 }, "the load did not start: \(load.current)")
        let victim = before[0]
        kill(victim, SIGKILL)
        let killedAt = Date()
        let replaced = eventually(timeout: 5) {
            let now = childPIDs(of: server.pid)
            return now.count == 2 && !now.contains(victim)
        }
        let replacedAfter = Date().timeIntervalSince(killedAt)
        // Load goes on for another 100 requests (on whichever worker the reconnections reach).
        let atReplacement = load.current.succeeded
        #expect(eventually(timeout: 10) { load.current.succeeded >= atReplacement + 100 }, "\(load.current)")
        let tally = load.stop()
        #expect(replaced, "\(server.output)")
        #expect(replacedAfter < 2, "the master replaces a dead worker at once (took \(replacedAfter) s)")
        #expect(Self.isAlive(before[1]), "the other worker is untouched")
        // Only requests in flight on the killed worker may fail: at most one per connection.
        #expect(tally.failed <= 4, "\(tally.errors)")
        #expect(tally.succeeded > 50, "\(tally)")
        #expect(server.output.contains("(pid \(victim)) was killed by signal 9"))
        #expect(try Self.get(server, "/plaintext") == "Hello, World!")
    }

    @Test func aTrappingRouteKillsOnlyItsWorker() async throws {
        let server = try Self.master(2)
        let before = childPIDs(of: server.pid)
        let crash = try runProcess(
            "/usr/bin/curl",
            ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "http://127.0.0.1:\(server.port)/crash"]
        )
        #expect(crash.output == "000", "no response: the worker died")
        let replaced = eventually(timeout: 5) {
            let now = childPIDs(of: server.pid)
            return now.count == 2 && Set(now).intersection(before).count == 1
        }
        #expect(replaced, "\(server.output)")
        #expect(server.output.range(of: #"was killed by signal (4|5) .*; replacing it"#, options: .regularExpression) != nil)
        for _ in 0..<10 {
            #expect(try Self.get(server, "/plaintext") == "Hello, World!")
        }
    }

    @Test func aWorkerWhoseLoopIsBlockedIsKilledAfterTheTimeout() async throws {
        let server = try Self.master(1, ["--timeout", "2"])
        let blocked = childPIDs(of: server.pid)[0]
        // Blocks one of the worker's event loops; the heartbeat needs every loop to answer.
        let request = Task.detached {
            try runProcess("/usr/bin/curl", ["-s", "--max-time", "10", "http://127.0.0.1:\(server.port)/block?s=60"])
        }
        #expect(
            server.waitForOutput(
                #"worker 1 \(pid \#(blocked)\) timed out: no heartbeat for [0-9.]+ s \(timeout 2 s\); sending SIGABRT"#,
                timeout: 10
            ),
            "\(server.output)"
        )
        let replaced = eventually(timeout: 5) {
            let now = childPIDs(of: server.pid)
            return now.count == 1 && now[0] != blocked
        }
        #expect(replaced)
        #expect(!Self.isAlive(blocked))
        let replacement = childPIDs(of: server.pid).first
        #expect(try Self.get(server, "/pid") == replacement.map(String.init))
        _ = try? await request.value
    }

    @Test func hupUnderKeepAliveLoadFailsNoRequest() async throws {
        let server = try Self.master(2)
        let old = Set(childPIDs(of: server.pid))
        let load = LoadClient(port: server.port, path: "/pid", connections: 4)
        #expect(eventually(timeout: 10) { load.current.succeeded >= 50 }, "the load did not start: \(load.current)")
        kill(server.pid, SIGHUP)
        #expect(server.waitForOutput(#"reload: 2 new workers serving [0-9.]+ s after HUP"#, timeout: 20), "\(server.output)")
        let switched = eventually(timeout: 20) {
            let now = Set(childPIDs(of: server.pid))
            return now.count == 2 && now.isDisjoint(with: old)
        }
        // Load goes on until the new workers have answered 100 requests.
        let newWorkers = childPIDs(of: server.pid).map { "\($0)" }
        #expect(eventually(timeout: 10) { newWorkers.reduce(0) { $0 + (load.current.bodies[$1] ?? 0) } >= 100 }, "\(load.current)")
        let tally = load.stop()
        #expect(switched, "\(server.output)")
        #expect(tally.failed == 0, "\(tally.errors)")
        #expect(tally.succeeded > 50, "\(tally)")
        // The load was on keep-alive connections, and only the reload closed some of them.
        #expect(tally.connections <= 4 + 4 * 4, "\(tally)")
        #expect(tally.retried <= 4 * 4, "\(tally)")
        let new = Set(childPIDs(of: server.pid).map(String.init))
        #expect(!new.isDisjoint(with: tally.bodies.keys), "the new workers served: \(tally.bodies)")
        #expect(old.allSatisfy { !Self.isAlive($0) })
    }

    /// TERM under keep-alive load, three times: every request sent is answered. After TERM the
    /// socket stops listening for the workers too, so a new connection is refused (its request
    /// never sent), instead of being queued and then reset when the last worker closes.
    @Test func termUnderKeepAliveLoadLosesNoRequestThatWasSent() async throws {
        for round in 1...3 {
            let server = try Self.master(2)
            let load = LoadClient(port: server.port, path: "/pid", connections: 4)
            #expect(eventually(timeout: 10) { load.current.succeeded >= 50 }, "the load did not start: \(load.current)")
            kill(server.pid, SIGTERM)
            #expect(server.waitForExit(timeout: 20), "\(server.output)")
            let tally = load.stop()
            let lost = tally.errors.filter { !$0.hasPrefix("connect: ") }
            #expect(
                lost.isEmpty && tally.retried == 0,
                "round \(round): \(lost.count + tally.retried) requests lost: \(lost.prefix(5)), \(tally)"
            )
            #expect(server.process.terminationStatus == 0)
        }
    }

    /// A copy of `SupervisorProbe` in a folder of its own, to be replaced as a deploy does.
    static func deployedCopy() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-deploy-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let app = folder.appendingPathComponent("app")
        try FileManager.default.copyItem(at: Self.probe, to: app)
        return app
    }

    /// Puts `hello` at `app`'s path (a new file renamed over it), with a new modification time.
    static func deploy(hello app: URL) throws {
        let staged = app.deletingLastPathComponent().appendingPathComponent("app.new")
        try FileManager.default.copyItem(at: builtExecutable("hello"), to: staged)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: staged.path)
        _ = rename(staged.path, app.path)
    }

    @Test func hupStartsWorkersFromTheBinaryNowOnDisk() async throws {
        let app = try Self.deployedCopy()
        defer { try? FileManager.default.removeItem(at: app.deletingLastPathComponent()) }
        let server = try ServerProcess(app, ["serve", "--workers", "2", "--bind", "127.0.0.1:0", "--log-level", "info"])
        #expect(eventually(timeout: 20) { Self.serving(server) >= 2 })
        #expect(Int(try Self.get(server, "/pid")) != nil, "the probe serves /pid")
        try Self.deploy(hello: app)
        kill(server.pid, SIGHUP)
        #expect(server.waitForOutput("reload: 2 new workers serving", timeout: 20), "\(server.output)")
        // Once the old workers are gone, only `hello` answers: it has /json, and no /pid.
        let switched = eventually(timeout: 20) {
            (try? curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(server.port)/pid"])) == "404"
        }
        #expect(switched)
        #expect(try Self.get(server, "/json") == #"{"message":"Hello, World!"}"#)
    }

    @Test func reloadFlagReloadsWhenTheExecutableChanges() async throws {
        let app = try Self.deployedCopy()
        defer { try? FileManager.default.removeItem(at: app.deletingLastPathComponent()) }
        let server = try ServerProcess(app, ["serve", "--reload", "--bind", "127.0.0.1:0", "--log-level", "info"])
        #expect(eventually(timeout: 20) { Self.serving(server) >= 1 && childPIDs(of: server.pid).count == 1 })
        let old = childPIDs(of: server.pid)
        try Self.deploy(hello: app)
        #expect(server.waitForOutput("changed; reloading", timeout: 10), "\(server.output)")
        let switched = eventually(timeout: 20) {
            let now = childPIDs(of: server.pid)
            return now.count == 1 && now != old
        }
        #expect(switched)
        #expect(eventually(timeout: 10) { (try? Self.get(server, "/json")) == #"{"message":"Hello, World!"}"# })
    }

    @Test func termLetsTheRequestInFlightFinishThenExitsZero() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-\(UUID()).pid").path
        let server = try Self.master(2, ["--pid", pidFile])
        #expect((try? String(contentsOfFile: pidFile, encoding: .utf8)) == "\(server.pid)\n")
        let workers = childPIDs(of: server.pid)
        let url = "http://127.0.0.1:\(server.port)/io?ms=2500"
        let slow = Task.detached { try curl(["-i", url]) }
        #expect(waitForConnections(1, port: server.port), "the slow request is not in flight")
        kill(server.pid, SIGTERM)
        // Stops accepting at once: new connections are refused while the slow request runs.
        let refused = eventually(timeout: 2) {
            (try? runProcess("/usr/bin/curl", ["-s", "--max-time", "1", "http://127.0.0.1:\(server.port)/plaintext"]).status) == 7
        }
        #expect(refused)
        let response = try await slow.value
        #expect(response.hasPrefix("HTTP/1.1 200 OK"), "\(response)")
        #expect(response.hasSuffix("ok"))
        let exited = server.waitForExit(timeout: 15)
        #expect(exited, "\(server.output)")
        #expect(exited && server.process.terminationReason == .exit)
        #expect(exited && server.process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: pidFile))
        #expect(workers.allSatisfy { !Self.isAlive($0) })
    }

    @Test func termCutsOffWhatOutlastsTheGracefulTimeout() async throws {
        let server = try Self.master(1, ["--graceful-timeout", "1"])
        let url = "http://127.0.0.1:\(server.port)/io?ms=20000"
        let slow = Task.detached { try runProcess("/usr/bin/curl", ["-s", "--max-time", "30", url]) }
        #expect(waitForConnections(1, port: server.port), "the slow request is not in flight")
        let sent = Date()
        kill(server.pid, SIGTERM)
        let exited = server.waitForExit(timeout: 10)
        let took = Date().timeIntervalSince(sent)
        #expect(exited, "\(server.output)")
        #expect(exited && server.process.terminationStatus == 0)
        #expect(took >= 0.9 && took < 5, "about the graceful timeout of 1 s (took \(took) s)")
        let response = try await slow.value
        #expect(response.output != "ok", "the request that outlasted the graceful timeout was cut off")
    }

    @Test func usr2StartsANewMasterOnTheSameSockets() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-\(UUID()).pid").path
        defer { try? FileManager.default.removeItem(atPath: pidFile + ".oldbin") }
        let server = try Self.master(2, ["--pid", pidFile])
        let oldWorkers = Set(childPIDs(of: server.pid))
        kill(server.pid, SIGUSR2)
        // The new master is the old one's child that is not a worker, and has two workers of its own.
        var newMaster: Int32 = 0
        let started = eventually(timeout: 20) {
            guard let candidate = childPIDs(of: server.pid).first(where: { !oldWorkers.contains($0) }) else { return false }
            newMaster = candidate
            return childPIDs(of: candidate).count == 2 && Self.serving(server) >= 4
        }
        #expect(started, "\(server.output)")
        defer { if newMaster > 0 { kill(newMaster, SIGKILL) } }
        #expect((try? String(contentsOfFile: pidFile, encoding: .utf8)) == "\(newMaster)\n")
        #expect((try? String(contentsOfFile: pidFile + ".oldbin", encoding: .utf8)) == "\(server.pid)\n")
        let newWorkers = Set(childPIDs(of: newMaster))
        // The old master stops; the new one keeps serving on the same port.
        kill(server.pid, SIGTERM)
        let exited = server.waitForExit(timeout: 15)
        #expect(exited, "\(server.output)")
        #expect(exited && server.process.terminationStatus == 0)
        for _ in 0..<5 {
            let pid = try Self.get(server, "/pid")
            #expect(newWorkers.contains(Int32(pid) ?? -1), "served by a new worker: \(pid)")
        }
        #expect(oldWorkers.allSatisfy { !Self.isAlive($0) })
        kill(newMaster, SIGTERM)
        #expect(eventually(timeout: 15) { !Self.isAlive(newMaster) })
        #expect(!FileManager.default.fileExists(atPath: pidFile), "the new master removes its pid file")
    }

    @Test func ttinAndTtouChangeTheWorkerCount() async throws {
        let server = try Self.master(2)
        kill(server.pid, SIGTTIN)
        #expect(eventually(timeout: 10) { childPIDs(of: server.pid).count == 3 && Self.serving(server) >= 3 })
        kill(server.pid, SIGTTOU)
        #expect(eventually(timeout: 10) { childPIDs(of: server.pid).count == 2 })
        kill(server.pid, SIGTTOU)
        #expect(eventually(timeout: 10) { childPIDs(of: server.pid).count == 1 })
        kill(server.pid, SIGTTOU)  // never fewer than one
        try await Task.sleep(for: .seconds(1))
        #expect(childPIDs(of: server.pid).count == 1)
        #expect(try Self.get(server, "/plaintext") == "Hello, World!")
    }

    @Test func maxRequestsRecyclesAWorkerWithoutFailures() async throws {
        let server = try Self.master(1, ["--max-requests", "20"])
        let load = LoadClient(port: server.port, path: "/pid", connections: 1, pause: 1000)
        let enough = eventually(timeout: 30) { load.current.succeeded >= 70 }
        let tally = load.stop()
        #expect(enough, "\(tally)")
        #expect(tally.failed == 0, "\(tally.errors)")
        #expect(tally.bodies.count >= 3, "a worker serves about 20 requests, then another takes over: \(tally.bodies)")
        #expect(tally.bodies.values.allSatisfy { $0 <= 20 })
        #expect(server.output.contains("served 20 requests (the max-requests limit)"))
    }

    @Test func workerConnectionsLimitsOpenConnections() async throws {
        let server = try Self.master(1, ["--worker-connections", "2", "--keep-alive", "30"])
        let first = connectTCP(port: server.port)
        let second = connectTCP(port: server.port)
        defer { close(first) }
        #expect(first >= 0 && second >= 0)
        try await Task.sleep(for: .milliseconds(500))
        // Both slots are taken: a third connection waits in the backlog.
        let waiting = try runProcess("/usr/bin/curl", ["-s", "--max-time", "1", "http://127.0.0.1:\(server.port)/plaintext"])
        #expect(waiting.status == 28, "timed out, not refused: \(waiting)")
        close(second)
        #expect(eventually(timeout: 5) { (try? Self.get(server, "/plaintext")) == "Hello, World!" })
    }

    @Test func unixSocketWithUmask() async throws {
        let path = "/tmp/carafe-sup-\(UUID().uuidString.prefix(8)).sock"
        let server = try ServerProcess(
            Self.probe,
            ["serve", "--workers", "2", "--bind", "unix:\(path)", "--umask", "007", "--log-level", "info"]
        )
        #expect(eventually(timeout: 20) { Self.serving(server) >= 2 })
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect(attributes[.type] as? FileAttributeType == .typeSocket)
        #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o777 } == 0o770)
        #expect(try curl(["--unix-socket", path, "http://localhost/plaintext"]) == "Hello, World!")
        kill(server.pid, SIGTERM)
        let exited = server.waitForExit(timeout: 15)
        #expect(exited, "\(server.output)")
        #expect(exited && server.process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: path), "the master removes its socket file")
    }

    @Test(arguments: [false, true])
    func servesAnInheritedSocket(systemdActivation: Bool) async throws {
        let socket = try InheritedSocket()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-fd-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let arguments =
            systemdActivation
            // systemd sets LISTEN_PID to the service's pid: the shell's, which exec keeps.
            ? ["/bin/sh", "-c", #"LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" serve --workers 2 --log-level info"#, Self.probe.path]
            : [Self.probe.path, "serve", "--bind", "fd://3", "--log-level", "info"]
        let pid = try socket.spawn(arguments, log: log)
        defer { kill(pid, SIGKILL) }
        var answer = ""
        let served = eventually(timeout: 20) {
            answer = (try? curl(["http://127.0.0.1:\(socket.port)/pid"])) ?? ""
            return Int32(answer) != nil
        }
        #expect(served, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        if systemdActivation {
            #expect(eventually(timeout: 10) { childPIDs(of: pid).count == 2 })
            #expect(childPIDs(of: pid).contains(Int32(answer) ?? -1), "a worker of the master answered")
        } else {
            #expect(answer == "\(pid)")
        }
        kill(pid, SIGTERM)
        #expect(waitForChild(pid, timeout: 15) == 0)
    }

    @Test func workersThatKeepCrashingAtBootAreRetriedWithBackOffThenTheMasterGivesUp() throws {
        let started = Date()
        let process = Process()
        process.executableURL = Self.probe
        process.arguments = ["serve", "--workers", "1", "--bind", "127.0.0.1:0", "--log-level", "info"]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "PROBE_WORKERS_TRAP_AT_BOOT": "1", "SWIFT_BACKTRACE": "enable=no",
        ]) { $1 }
        let output = Pipe()
        process.standardError = output
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let took = Date().timeIntervalSince(started)
        #expect(process.terminationStatus == 1)
        #expect(text.contains("workers keep failing to boot: 5 in a row"), "\(text)")
        #expect(text.components(separatedBy: "next attempt in").count - 1 == 4, "backs off between attempts")
        #expect(took >= 1.5, "0.1 + 0.2 + 0.4 + 0.8 s of back-off (took \(took) s)")
        #expect(took < 20)
    }

    @Test func aReloadWhoseNewWorkersCannotBootKeepsTheOldOnes() async throws {
        let app = try Self.deployedCopy()
        defer { try? FileManager.default.removeItem(at: app.deletingLastPathComponent()) }
        let server = try ServerProcess(app, ["serve", "--workers", "2", "--bind", "127.0.0.1:0", "--log-level", "info"])
        #expect(eventually(timeout: 20) { Self.serving(server) >= 2 && childPIDs(of: server.pid).count == 2 })
        let old = Set(childPIDs(of: server.pid))
        // A broken build: it exits at once with status 1.
        let staged = app.deletingLastPathComponent().appendingPathComponent("app.new")
        try FileManager.default.copyItem(atPath: "/bin/false", toPath: staged.path)
        _ = rename(staged.path, app.path)
        kill(server.pid, SIGHUP)
        #expect(server.waitForOutput("reload failed, new workers keep failing to boot", timeout: 20), "\(server.output)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(Set(childPIDs(of: server.pid)) == old, "the old workers still serve, and no new one is started")
        #expect(server.process.isRunning)
        #expect(Int32(try Self.get(server, "/pid")).map(old.contains) == true)
    }

    @Test func quitStopsAtOnceWithoutWaitingForRequests() async throws {
        let server = try Self.master(2)
        let workers = childPIDs(of: server.pid)
        let url = "http://127.0.0.1:\(server.port)/io?ms=10000"
        let slow = Task.detached { try runProcess("/usr/bin/curl", ["-s", "--max-time", "15", url]) }
        #expect(waitForConnections(1, port: server.port), "the slow request is not in flight")
        let sent = Date()
        kill(server.pid, SIGQUIT)
        let exited = server.waitForExit(timeout: 5)
        #expect(exited, "\(server.output)")
        #expect(exited && server.process.terminationStatus == 0)
        #expect(Date().timeIntervalSince(sent) < 4)
        let response = try await slow.value
        #expect(response.status != 0, "the request in flight was cut off")
        #expect(workers.allSatisfy { !Self.isAlive($0) })
    }

    @Test func serveHelpListsTheApplicationServerOptions() throws {
        let (status, output) = try runProcess(Self.probe.path, ["serve", "--help"])
        #expect(status == 0, "\(output)")
        for option in [
            "--workers", "--timeout", "--max-requests", "--max-requests-jitter", "--worker-connections", "--pid", "--umask", "--reload",
            "--threads",
        ] {
            #expect(output.contains(option), "\(option) in \(output)")
        }
    }

    @Test func workersThatFailToBootStopTheMasterWithAClearError() throws {
        let started = Date()
        let (status, output) = try runProcess(
            Self.probe.path,
            ["serve", "--workers", "2", "--bind", "127.0.0.1:0", "--access-logfile", "/nonexistent-carafe-dir/access.log"]
        )
        #expect(status == 1)
        #expect(output.contains("workers keep failing to boot"), "\(output)")
        #expect(output.contains("cannot open access log"), "the worker's own error is in the log")
        #expect(Date().timeIntervalSince(started) < 20)
    }
}
