import Foundation
import ProcessTestSupport
import Testing

/// The master's operations flags over real processes: recycling by age and memory with no
/// capacity dip, `--backlog`, `--reuse-port`, `--user`/`--group` and process titles.
@Suite(.serialized) struct OperationsTests {
    static let probe = SupervisorTests.probe

    /// The listening TCP sockets on `port` and their backlogs (`ss -ltn`'s Send-Q).
    static func listeners(on port: Int) throws -> [Int] {
        let text = try runProcess("/usr/bin/ss", ["-Hltn", "sport = :\(port)"]).output
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count >= 3 ? Int(fields[2]) : nil
        }
    }

    /// The real uid of every thread of `pid` that runs code. Not the main thread of an async
    /// Swift program: libdispatch parks it for good (`dispatch_main` ends it with `pthread_exit`,
    /// trapped in `sigsuspend`) before any of the program's code runs, and glibc's set*id
    /// broadcast skips an exiting thread, so it keeps the credentials it started with
    /// (see docs/observability.md). A process exec'd after the switch (a worker) has no such thread.
    static func uids(of pid: Int32, includingParkedMain: Bool = false) -> Set<String> {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return Set(
            tasks.compactMap { task -> String? in
                if !includingParkedMain, task == "\(pid)" { return nil }
                let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
                return status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(separator: "\t").dropFirst().first.map(
                    String.init
                )
            }
        )
    }

    /// A load of keep-alive clients during `seconds`, sampling every 50 ms the workers that are
    /// running; returns the tally and the fewest seen at once.
    static func underLoad(_ server: ServerProcess, seconds: Double, _ sample: () -> Void = {}) async throws -> (LoadClient.Tally, Int) {
        let load = LoadClient(port: server.port, path: "/pid", connections: 4)
        var fewest = Int.max
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            fewest = min(fewest, childPIDs(of: server.pid).count)
            sample()
            try await Task.sleep(for: .milliseconds(50))
        }
        return (load.stop(), fewest)
    }

    @Test func anOldWorkerIsReplacedFirstThenDrainedOneAtATime() async throws {
        let server = try SupervisorTests.master(2, ["--max-worker-age", "2s"])
        let first = childPIDs(of: server.pid)
        let (tally, fewest) = try await Self.underLoad(server, seconds: 9)
        let output = server.output
        #expect(tally.failed == 0, "\(tally.errors) \(output)")
        #expect(tally.succeeded > 100, "\(tally)")
        #expect(fewest >= 2, "never fewer workers than --workers: \(fewest)")
        #expect(Set(childPIDs(of: server.pid)).isDisjoint(with: first), "both first workers were recycled: \(output)")
        // The first recycle, in order: marked, the replacement boots and serves, then the old one stops.
        let marked = try #require(output.range(of: "passed --max-worker-age 2 s"), "\(output)")
        let booting = try #require(output.range(of: "booting worker 3", range: marked.upperBound..<output.endIndex))
        let serving = try #require(
            output.range(of: #"worker 3 \(pid \d+\) is serving"#, options: .regularExpression, range: booting.upperBound..<output.endIndex)
        )
        let stopping = try #require(
            output.range(of: "its replacement is serving; stopping it gracefully", range: serving.upperBound..<output.endIndex)
        )
        #expect(output[stopping.lowerBound...].hasPrefix("its replacement"))
        // One at a time: the second worker is marked only after the first was told to stop.
        let second = try #require(output.range(of: "passed --max-worker-age", range: marked.upperBound..<output.endIndex))
        #expect(second.lowerBound > stopping.lowerBound)
    }

    @Test func aWorkerPastTheMemoryLimitIsRecycledAndABadSizeIsRefused() async throws {
        let server = try SupervisorTests.master(2, ["--max-worker-memory", "1M"])  // every worker is past 1 MiB
        let (tally, fewest) = try await Self.underLoad(server, seconds: 4)
        #expect(tally.failed == 0, "\(tally.errors)")
        #expect(fewest >= 2)
        #expect(server.output.contains("passed --max-worker-memory 1.0 MiB: resident "), "\(server.output)")
        #expect(server.output.contains("stopped for --max-worker-memory"), "\(server.output)")

        let refused = try runProcess(Self.probe.path, ["serve", "--workers", "2", "--bind", "127.0.0.1:0", "--max-worker-memory", "lots"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("--max-worker-memory lots: give a size in bytes"), "\(refused.output)")
        let age = try runProcess(Self.probe.path, ["serve", "--workers", "2", "--bind", "127.0.0.1:0", "--max-worker-age", "soon"])
        #expect(age.output.contains("--max-worker-age soon: give a duration"), "\(age.output)")
    }

    @Test func theBacklogIsTheOneAskedFor() async throws {
        let server = try SupervisorTests.master(2, ["--backlog", "77"])
        #expect(try Self.listeners(on: server.port) == [77])
        #expect(try SupervisorTests.get(server, "/plaintext") == "Hello, World!")
        let single = try ServerProcess(Self.probe, ["serve", "--bind", "127.0.0.1:0", "--backlog", "33"])
        #expect(try Self.listeners(on: single.port) == [33])
        let refused = try runProcess(Self.probe.path, ["serve", "--bind", "127.0.0.1:0", "--backlog", "0"])
        #expect(refused.output.contains("--backlog must be at least 1"), "\(refused.output)")
    }

    @Test func reusePortGivesEachSlotASocketThatItsReplacementTakesOver() async throws {
        let server = try SupervisorTests.master(3, ["--reuse-port"])
        #expect(try Self.listeners(on: server.port).count == 3)
        // New connections spread over every worker.
        var answered: Set<String> = []
        for _ in 0..<60 { answered.insert(try SupervisorTests.get(server, "/pid")) }
        #expect(answered.count == 3, "\(answered)")
        // A killed worker's replacement serves its slot's socket: still 3 sockets, 3 workers answer.
        let victim = childPIDs(of: server.pid)[0]
        kill(victim, SIGKILL)
        #expect(
            eventually(timeout: 10) {
                let now = childPIDs(of: server.pid)
                return now.count == 3 && !now.contains(victim)
            }
        )
        #expect(server.waitForOutput("worker 4 \\(pid \\d+\\) is serving", timeout: 10))
        #expect(try Self.listeners(on: server.port).count == 3)
        answered = []
        for _ in 0..<60 { answered.insert(try SupervisorTests.get(server, "/pid")) }
        #expect(answered.count == 3, "\(answered)")
        #expect(!answered.contains("\(victim)"))
    }

    @Test(.enabled(if: getuid() == 0, "needs root to switch users"))
    func theMasterDropsToTheUserAfterBindingAndTheWorkersRunAsIt() async throws {
        let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
        let server = try SupervisorTests.master(2, ["--user", "nobody"])
        #expect(Self.uids(of: server.pid) == ["\(nobody)"])
        for worker in childPIDs(of: server.pid) {
            #expect(Self.uids(of: worker, includingParkedMain: true) == ["\(nobody)"])
        }
        #expect(try SupervisorTests.get(server, "/plaintext") == "Hello, World!")
        let single = try ServerProcess(Self.probe, ["serve", "--bind", "127.0.0.1:0", "--user", "nobody", "--group", "nogroup"])
        #expect(Self.uids(of: single.pid) == ["\(nobody)"])
        #expect(try curl(["http://127.0.0.1:\(single.port)/plaintext"]) == "Hello, World!")
        let unknown = try runProcess(Self.probe.path, ["serve", "--workers", "1", "--bind", "127.0.0.1:0", "--user", "no-such-user-here"])
        #expect(unknown.status != 0)
        #expect(unknown.output.contains("--user no-such-user-here: no such user"), "\(unknown.output)")
    }

    @Test func theMasterAndWorkersHaveProcessTitles() async throws {
        let server = try SupervisorTests.master(2)
        func title(_ pid: Int32) -> String {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            return String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
        }
        func comm(_ pid: Int32) -> String {
            ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .newlines)
        }
        #expect(title(server.pid) == "carafe: master [SupervisorProbe]")
        #expect(comm(server.pid) == "carafe master")
        let titles = Set(childPIDs(of: server.pid).map(title))
        #expect(titles == ["carafe: worker 1 [SupervisorProbe]", "carafe: worker 2 [SupervisorProbe]"])
        #expect(Set(childPIDs(of: server.pid).map(comm)) == ["carafe worker 1", "carafe worker 2"])
        // The title changed no argument: a HUP's new workers start with the same flags.
        kill(server.pid, SIGHUP)
        #expect(server.waitForOutput("reload: 2 new workers serving", timeout: 20), "\(server.output)")
        #expect(try SupervisorTests.get(server, "/plaintext") == "Hello, World!")
    }

    @Test func theRequestsOfAWorkerKilledForTheTimeoutGetAccessLogLines() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("killed-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let server = try SupervisorTests.master(
            1,
            [
                "--event-loops", "1", "--timeout", "4", "--blocked-loop-threshold", "300", "--access-logfile", log, "--access-logformat",
                "json",
            ]
        )
        _ = try? curl([
            "-s", "-o", "/dev/null", "--max-time", "12", "-H", "X-Request-Id: hung-9", "http://127.0.0.1:\(server.port)/block?s=10",
        ])
        #expect(server.waitForOutput(#"had in flight: GET /block \(route /block, request id hung-9"#, timeout: 15), "\(server.output)")
        let line = eventually(timeout: 5) { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("hung-9") }
        #expect(line, "\(server.output)")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        let entry = try #require(text.split(separator: "\n").first { $0.contains("hung-9") })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(entry.utf8)) as? [String: Any])
        #expect(json["status"] as? Int == 504)
        #expect(json["path"] as? String == "/block")
        #expect(json["bytes"] as? Int == 0)
        #expect(json["request_id"] as? String == "hung-9")
    }
}
