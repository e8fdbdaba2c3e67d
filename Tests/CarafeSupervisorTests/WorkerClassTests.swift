import Foundation
import ProcessTestSupport
import Testing

/// `serve --worker-class async|threads` over real sockets, with `SupervisorProbe`'s `/sleep`
/// (blocks its thread, says nothing about `blocking:`) and `/sleep-on-loop` (`blocking: false`).
///
/// Serialized: the timings need the two cores to themselves as far as possible; the margins
/// are wide (a blocked request waits 600 ms or more, a free one is answered in well under 200).
@Suite(.serialized) struct WorkerClassTests {
    static let probe = builtExecutable("SupervisorProbe")

    /// A single process with one event loop, so that one blocked handler blocks the whole loop.
    static func server(_ arguments: [String]) throws -> ServerProcess {
        try ServerProcess(Self.probe, ["serve", "--bind", "127.0.0.1:0", "--event-loops", "1", "--log-level", "info"] + arguments)
    }

    /// `GET path`'s body and how long it took, in seconds, as curl measured it.
    static func timedGet(_ server: ServerProcess, _ path: String) throws -> (body: String, seconds: Double) {
        let output = try curl(["-w", "\n%{time_total}", "http://127.0.0.1:\(server.port)\(path)"])
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        return (lines.dropLast().joined(separator: "\n"), Double(lines.last ?? "") ?? .infinity)
    }

    /// `count` curl processes requesting `path` at once, started now (no thread waits for them
    /// until `bodies()`: a blocking wait would hold one of the few threads Swift's tasks share).
    struct Background {
        let processes: [(Process, Pipe)]

        /// Each request's body, once all have ended.
        func bodies() -> [String] {
            self.processes.map { process, pipe in
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                return String(decoding: data, as: UTF8.self)
            }
        }
    }

    static func inBackground(_ count: Int, _ server: ServerProcess, _ path: String) throws -> Background {
        Background(
            processes: try (0..<count).map { _ in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                process.arguments = ["-s", "--max-time", "10", "http://127.0.0.1:\(server.port)\(path)"]
                let pipe = Pipe()
                process.standardOutput = pipe
                try process.run()
                return (process, pipe)
            }
        )
    }

    @Test func underThreadsA200msHandlerDoesNotDelayAConcurrentRequestOnAnotherRoute() async throws {
        let server = try Self.server(["--worker-class", "threads", "--threads", "4", "--blocked-loop-threshold", "100"])
        // Three of the four threads block for 200 ms; a request to another route, sent while
        // they block, is answered before any of them: it did not wait for a thread. Up to three
        // rounds, as the machine is shared: one is enough to show it (under async the loop is
        // blocked, so the free request can never end first).
        var rounds: [String] = []
        for _ in 0..<3 {
            let blocked = try Self.inBackground(3, server, "/sleep?ms=200")
            #expect(waitForConnections(3, port: server.port), "the three blocking requests did not connect")
            let free = try Self.timedGet(server, "/plaintext")
            let stillBlocking = blocked.processes.filter { $0.0.isRunning }.count
            #expect(free.body == "Hello, World!")
            let threads = blocked.bodies()
            #expect(threads.count == 3 && threads.allSatisfy { $0.hasPrefix("TP-#") }, "ran on \(threads)")
            rounds.append("answered in \(free.seconds) s, \(stillBlocking) of 3 still blocking")
            if stillBlocking == 3 { break }
        }
        #expect(rounds.last?.hasSuffix("3 of 3 still blocking") == true, "\(rounds)")
        // The pool's threads may block: the loop watchdog says nothing of them.
        #expect(!server.output.contains("blocked for"), "\(server.output)")
    }

    @Test func underAsyncA200msHandlerIsReportedByTheLoopWatchdogWithItsRouteAndRequestID() async throws {
        let server = try Self.server(["--blocked-loop-threshold", "100"])
        _ = try curl(["-s", "-o", "/dev/null", "-H", "X-Request-Id: block-200", "http://127.0.0.1:\(server.port)/sleep?ms=200"])
        let line =
            #"event loop 0 blocked for \d+ ms \(threshold 100 ms\); running GET /sleep \(route /sleep, request id block-200, for \d+ ms\)"#
        #expect(server.waitForOutput(line, timeout: 5), "\(server.output)")
        #expect(server.waitForOutput(#"event loop 0 moved again after being blocked for \d+ ms"#, timeout: 5), "\(server.output)")
    }

    @Test func underThreadsABlockingHandlerDoesNotDelayAnotherRouteWithinThePoolsCapacity() async throws {
        let server = try Self.server(["--worker-class", "threads", "--threads", "4"])
        #expect(server.output.contains("worker class threads: handlers run on a pool of 4 threads per process"), "\(server.output)")
        // Three of the four threads blocked for 600 ms; the fourth answers at once.
        let blocked = try Self.inBackground(3, server, "/sleep?ms=600")
        #expect(waitForConnections(3, port: server.port))
        let free = try Self.timedGet(server, "/plaintext")
        #expect(free.body == "Hello, World!")
        #expect(free.seconds < 0.3, "answered in \(free.seconds) s while three handlers block")
        let threads = blocked.bodies()
        #expect(threads.count == 3 && threads.allSatisfy { $0.hasPrefix("TP-#") }, "ran on \(threads)")
    }

    @Test func underThreadsARequestBeyondThePoolsCapacityWaitsForAThread() async throws {
        let server = try Self.server(["--worker-class", "threads", "--threads", "2"])
        let blocked = try Self.inBackground(2, server, "/sleep?ms=800")
        #expect(waitForConnections(2, port: server.port))
        let waited = try Self.timedGet(server, "/plaintext")
        #expect(waited.body == "Hello, World!")
        #expect(waited.seconds > 0.4, "both threads were blocked, yet answered in \(waited.seconds) s")
        _ = blocked.bodies()
    }

    @Test func underAsyncTheSameHandlerBlocksTheLoopAndDelaysEveryone() async throws {
        let server = try Self.server([])
        #expect(server.output.contains("worker class async: handlers run on the event loops"), "\(server.output)")
        let blocked = try Self.inBackground(1, server, "/sleep?ms=800")
        #expect(waitForConnections(1, port: server.port))
        let delayed = try Self.timedGet(server, "/plaintext")
        #expect(delayed.seconds > 0.4, "the loop was blocked, yet answered in \(delayed.seconds) s")
        let threads = blocked.bodies()
        #expect(threads.allSatisfy { !$0.hasPrefix("TP-#") }, "ran on \(threads)")
    }

    @Test func underThreadsBlockingFalseRunsOnTheLoop() async throws {
        let server = try Self.server(["--worker-class", "threads", "--threads", "4"])
        let (body, _) = try Self.timedGet(server, "/sleep-on-loop?ms=1")
        #expect(!body.hasPrefix("TP-#") && !body.isEmpty, "ran on \(body)")
        let (pooled, _) = try Self.timedGet(server, "/sleep?ms=1")
        #expect(pooled.hasPrefix("TP-#"), "ran on \(pooled)")
    }

    // MARK: Blocked-loop detection (the worker heartbeat and `--timeout`) in both modes

    /// A master with one worker, one event loop and a 1 s timeout.
    static func master(_ arguments: [String]) throws -> ServerProcess {
        let server = try ServerProcess(
            Self.probe,
            ["serve", "--workers", "1", "--timeout", "1", "--event-loops", "1", "--bind", "127.0.0.1:0", "--log-level", "info"] + arguments
        )
        guard eventually(timeout: 20, { server.output.contains(") is serving") }) else { throw ServerDidNotStart(output: server.output) }
        return server
    }

    static let timedOut = #"worker 1 \(pid \d+\) timed out: no heartbeat"#

    @Test func underAsyncAHandlerThatBlocksTheLoopIsReported() async throws {
        let server = try Self.master([])
        #expect(server.output.contains("worker class async"), "the master says the worker class: \(server.output)")
        let request = try Self.inBackground(1, server, "/sleep?ms=3000")
        #expect(server.waitForOutput(Self.timedOut, timeout: 10), "\(server.output)")
        _ = request.bodies()
    }

    @Test func underThreadsTheSameHandlerBlocksOnlyAPoolThreadAndIsNotReported() async throws {
        let server = try Self.master(["--worker-class", "threads", "--threads", "4"])
        let results = try Self.inBackground(2, server, "/sleep?ms=2500").bodies()
        #expect(results.count == 2 && results.allSatisfy { $0.hasPrefix("TP-#") }, "\(results)")
        #expect(!server.output.contains("timed out"), "\(server.output)")
    }

    @Test func underThreadsDetectionStaysOnForBlockingFalseRoutes() async throws {
        let server = try Self.master(["--worker-class", "threads", "--threads", "4"])
        let request = try Self.inBackground(1, server, "/sleep-on-loop?ms=3000")
        #expect(server.waitForOutput(Self.timedOut, timeout: 10), "\(server.output)")
        _ = request.bodies()
    }

    // MARK: The `routes` command

    @Test func routesShowsWhereEachRouteRunsUnderEachWorkerClass() throws {
        func table(_ arguments: [String]) throws -> [String] {
            let (status, output) = try runProcess(Self.probe.path, ["routes"] + arguments)
            #expect(status == 0, "\(output)")
            return output.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        }
        let async = try table([])
        #expect(async.first == "worker class: async (routes that do not say blocking: run on the event loop)")
        #expect(async.contains("METHOD PATH NAME RUNS ON"))
        #expect(async.contains("GET /sleep event loop"))
        #expect(async.contains("GET /sleep-on-loop event loop (blocking: false)"))
        let threads = try table(["--worker-class", "threads"])
        #expect(threads.first == "worker class: threads (routes that do not say blocking: run on the thread pool)")
        #expect(threads.contains("GET /sleep thread pool"))
        #expect(threads.contains("GET /plaintext thread pool"))
        #expect(threads.contains("GET /sleep-on-loop event loop (blocking: false)"))
        #expect(try table(["-k", "threads"]) == threads)
    }
}
