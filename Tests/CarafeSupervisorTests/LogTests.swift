import Foundation
import ProcessTestSupport
import Testing

/// `--access-logfile`, `--error-logfile` and `--access-logformat` with `hello serve`, and USR1
/// reopening the files after a rotation, as logrotate does it: rename, then USR1.
@Suite(.serialized) struct LogTests {
    static let hello = builtExecutable("hello")

    /// Fresh paths for an access log and an error log; removed (with rotated copies) by `remove`.
    struct Paths {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-logs-\(UUID())").path
        var access: String { self.folder + "/access.log" }
        var error: String { self.folder + "/error.log" }

        init() throws { try FileManager.default.createDirectory(atPath: self.folder, withIntermediateDirectories: true) }
        func remove() { try? FileManager.default.removeItem(atPath: self.folder) }
    }

    static func lines(_ path: String) -> [Substring] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
    }

    /// `hello serve` with both logs in files, once `workers` workers (or the single process) serve.
    static func start(_ paths: Paths, workers: Int?) throws -> ServerProcess {
        let server = try ServerProcess(
            Self.hello,
            ["serve", "--bind", "127.0.0.1:0", "--log-level", "info", "--access-logfile", paths.access, "--error-logfile", paths.error]
                + (workers.map { ["--workers", "\($0)"] } ?? []),
            errorLog: paths.error
        )
        let ready = eventually(timeout: 20) {
            workers.map { server.output.components(separatedBy: ") is serving").count - 1 >= $0 && childPIDs(of: server.pid).count == $0 }
                ?? true
        }
        guard ready else { throw ServerDidNotStart(output: server.output) }
        return server
    }

    static func get(_ server: ServerProcess, _ path: String) throws -> String {
        try curl(["http://127.0.0.1:\(server.port)\(path)"])
    }

    @Test func eachWorkersLinesCarryItsPidAndBothLogsAreFiles() throws {
        let paths = try Paths()
        defer { paths.remove() }
        let server = try Self.start(paths, workers: 2)
        let workers = Set(childPIDs(of: server.pid).map { "<\($0)>" })
        // One connection per request: the kernel hands them to either worker.
        var served: Set<String> = []
        let both = eventually(timeout: 20) {
            _ = try? Self.get(server, "/plaintext")
            served = Set(Self.lines(paths.access).compactMap { $0.split(separator: " ").last.map(String.init) })
            return served == workers
        }
        #expect(both, "served by \(served), the workers are \(workers)")
        let combined = #"^127\.0\.0\.1 - - \[[^]]+\] "GET /plaintext HTTP/1\.1" 200 13 "-" "curl/[^"]+" <\d+>$"#
        #expect(
            Self.lines(paths.access).allSatisfy { $0.range(of: combined, options: .regularExpression) != nil },
            "\(Self.lines(paths.access))"
        )

        let log = Self.lines(paths.error)
        let stamp = #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} "#
        for pid in childPIDs(of: server.pid) {
            let number = #"(\d+)"#
            let started = log.contains {
                $0.range(
                    of: stamp + #"info carafe: worker=\#(number) \[Carafe\] worker \1 \(pid \#(pid)\) serving on "#,
                    options: .regularExpression
                ) != nil
            }
            #expect(started, "worker \(pid)'s startup line, with worker=N: \(log)")
        }
        #expect(
            log.contains {
                $0.range(
                    of: stamp
                        + #"notice carafe: \[CarafeSupervisor\] Carafe serving on http://127\.0\.0\.1:\d+ \(master pid \#(server.pid), 2 workers\)$"#,
                    options: .regularExpression
                ) != nil
            },
            "\(log)"
        )
        kill(server.pid, SIGTERM)
        #expect(server.waitForExit(timeout: 15))
        #expect(Self.lines(paths.error).last?.hasSuffix("master stopped") == true, "the master's last line is in the file too")
    }

    @Test func aFormatGivenIsUsedAsIsAndABadOneStopsTheStart() throws {
        let paths = try Paths()
        defer { paths.remove() }
        let server = try ServerProcess(
            Self.hello,
            [
                "serve", "--workers", "1", "--bind", "127.0.0.1:0", "--access-logfile", paths.access, "--access-logformat",
                "%(m)s %(U)s %(q)s %(s)s %(B)s %(p)s %({x-id}i)s %(D)s",
            ]
        )
        #expect(try Self.get(server, "/stream?bytes=1000") == String(repeating: "x", count: 1000))
        let worker = childPIDs(of: server.pid).first ?? 0
        #expect(eventually(timeout: 5) { !Self.lines(paths.access).isEmpty })
        #expect(
            Self.lines(paths.access).first?.range(of: #"^GET /stream bytes=1000 200 1000 <\#(worker)> - \d+$"#, options: .regularExpression)
                != nil,
            "\(Self.lines(paths.access))"
        )

        let (status, output) = try runProcess(Self.hello.path, ["serve", "--workers", "2", "--access-logformat", "%(h)s %(x)s"])
        #expect(status == 64, "a usage error, before any worker starts")
        #expect(output.contains("unknown atom %(x)s in the access log format; the atoms are %(h)s"), "\(output)")
    }

    /// logrotate's way: rename the files, then USR1 to the master (or the single process).
    @Test(arguments: [2, nil])
    func usr1ReopensTheLogFilesAfterARename(workers: Int?) async throws {
        let paths = try Paths()
        defer { paths.remove() }
        let server = try Self.start(paths, workers: workers)
        for _ in 0..<5 { #expect(try Self.get(server, "/plaintext") == "Hello, World!") }
        #expect(eventually(timeout: 5) { Self.lines(paths.access).count == 5 })
        #expect(rename(paths.access, paths.access + ".1") == 0 && rename(paths.error, paths.error + ".1") == 0)
        let rotatedError = Self.lines(paths.error + ".1")

        kill(server.pid, SIGUSR1)
        // Each process that serves says so in the new error log once it has reopened its files.
        let reopened = eventually(timeout: 10) {
            Self.lines(paths.error).filter { $0.hasSuffix("received USR1: reopened log files") }.count == workers ?? 1
        }
        #expect(reopened, "\(Self.lines(paths.error))")
        for _ in 0..<5 { #expect(try Self.get(server, "/plaintext") == "Hello, World!") }
        #expect(eventually(timeout: 5) { Self.lines(paths.access).count == 5 }, "the new lines are in a new file at the path")
        #expect(Self.lines(paths.access + ".1").count == 5, "the rotated file got no new line")
        #expect(Self.lines(paths.error + ".1") == rotatedError, "nor did the rotated error log")
        #expect(Self.lines(paths.error).allSatisfy { !$0.contains("error") }, "\(Self.lines(paths.error))")
    }
}
