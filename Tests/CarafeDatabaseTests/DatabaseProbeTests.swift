import CarafeDatabase
import Foundation
import PostgresTestSupport
import ProcessTestSupport
import Testing

/// `database-probe` run as a user runs an app: its command line, `serve` with and without
/// `--workers`, over real sockets with curl, against PostgreSQL and SQLite.
@Suite struct DatabaseProbeTests {
    static let probe = builtExecutable("DatabaseProbe")

    static func environment(_ url: String, _ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = url
        environment["MIGRATIONS"] = probeMigrations
        return environment.merging(extra) { $1 }
    }

    static func newPostgresURL() async throws -> String {
        try await createDatabase("p_\(UUID().uuidString.prefix(8).lowercased())", on: try PostgresServer.shared)
    }

    static func sqliteURL() -> String {
        "sqlite:" + NSTemporaryDirectory() + "carafe-probe-\(UUID().uuidString).sqlite"
    }

    /// `status body` of a request.
    static func request(_ port: Int, _ path: String, _ arguments: [String] = []) throws -> (status: String, body: String) {
        let output = try curl(arguments + ["-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"])
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
    }

    struct User: Decodable, Equatable {
        let id: Int
        let name: String
    }

    /// A user or an array of users, from JSON.
    static func users(_ json: String) throws -> [User] {
        let data = Data(json.utf8)
        return try (try? JSONDecoder().decode([User].self, from: data)) ?? [JSONDecoder().decode(User.self, from: data)]
    }

    static func migrate(_ url: String, _ arguments: [String] = [probeMigrations]) throws -> (status: Int32, output: String) {
        try runProcess(Self.probe.path, ["migrate"] + arguments, environment: Self.environment(url))
    }

    @Test(arguments: ["sqlite", "postgres"])
    func theMigrateCommandAppliesOnceThenReportsNothingToDo(_ backend: String) async throws {
        let url = backend == "sqlite" ? Self.sqliteURL() : try await Self.newPostgresURL()
        let first = try Self.migrate(url)
        #expect(first.status == 0)
        #expect(first.output.contains("Applied 2 migrations: 001_users, 002_notes."), "\(first.output)")
        let second = try Self.migrate(url)
        #expect(second.status == 0)
        #expect(second.output.contains("No migrations to apply."), "\(second.output)")
        let help = try runProcess(Self.probe.path, ["--help"])
        #expect(help.output.contains("MORE SUBCOMMANDS:\n  migrate  Apply the database migrations"), "\(help.output)")
        let usage = try Self.migrate(url, ["--all"])
        #expect(usage.status == 1)
        #expect(usage.output.contains("usage: migrate [DIRECTORY]"))
    }

    @Test(arguments: ["sqlite", "postgres"])
    func handlersUseReqDBOverHTTP(_ backend: String) async throws {
        let url = backend == "sqlite" ? Self.sqliteURL() : try await Self.newPostgresURL()
        #expect(try Self.migrate(url).status == 0)
        let server = try ServerProcess(Self.probe, ["serve", "--bind", "127.0.0.1:0"], environment: Self.environment(url))
        let created = try Self.request(server.port, "/users", ["-d", "name=ann"])
        #expect(created.status == "201")
        #expect(try Self.users(created.body) == [User(id: 1, name: "ann")])
        #expect(try Self.request(server.port, "/users", ["-d", "name=bob"]).status == "201")
        let taken = try Self.request(server.port, "/users", ["-d", "name=ann"])
        #expect(taken.status == "409")
        #expect(taken.body.contains("The name 'ann' is taken."))
        #expect(try Self.users(Self.request(server.port, "/users").body) == [User(id: 1, name: "ann"), User(id: 2, name: "bob")])
        #expect(try Self.users(Self.request(server.port, "/users/2").body) == [User(id: 2, name: "bob")])
        #expect(try Self.request(server.port, "/users/99").status == "404")
        #expect(try Self.request(server.port, "/users/abc").status == "400")
    }

    @Test func aBadDatabaseURLStopsTheAppWithAMessage() throws {
        let result = try Self.migrate("mysql://u@127.0.0.1/db")
        #expect(result.status == 2)
        #expect(result.output.contains("unknown database URL scheme"), "\(result.output)")
    }

    @Test func anOnStartHookThatThrowsStopsTheServerBeforeItServes() throws {
        let environment = Self.environment(Self.sqliteURL(), ["MIGRATE_ON_START": "1", "MIGRATIONS": "/nonexistent/migrations"])
        let process = Process()
        process.executableURL = Self.probe
        process.arguments = ["serve", "--bind", "127.0.0.1:0"]
        process.environment = environment
        let output = PipeCollector()
        process.standardError = output.pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        #expect(eventually(timeout: 20) { !process.isRunning })
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(output.text.contains("cannot read the migrations directory /nonexistent/migrations"), "\(output.text)")
        #expect(!output.text.contains("serving on"))
    }

    @Test func sigtermClosesThePoolAndTheServerExitsCleanly() async throws {
        let url = try await Self.newPostgresURL()
        #expect(try Self.migrate(url).status == 0)
        let server = try ServerProcess(
            Self.probe,
            ["serve", "--bind", "127.0.0.1:0", "--log-level", "debug"],
            environment: Self.environment(url)
        )
        #expect(try Self.request(server.port, "/users").status == "200")
        let admin = try Database.open(url: try PostgresServer.shared.url)
        defer { Task { await admin.shutdown() } }
        let database = String(url.split(separator: "/").last!)
        let sessions: SQL = "SELECT count(*) FROM pg_stat_activity WHERE datname = \(database)"
        #expect(try await admin.first(sessions, as: Int.self)! >= 1)
        kill(server.pid, SIGTERM)
        #expect(server.waitForExit(timeout: 20))
        #expect(server.process.terminationStatus == 0, "\(server.output)")
        var open = try await admin.first(sessions, as: Int.self)
        for _ in 0..<50 where open != 0 {
            try await Task.sleep(for: .milliseconds(100))
            open = try await admin.first(sessions, as: Int.self)
        }
        #expect(open == 0)
    }

    @Test func queriesRunOnTheEventLoopOfTheirRequest() async throws {
        let url = try await Self.newPostgresURL()
        let server = try ServerProcess(
            Self.probe,
            ["serve", "--bind", "127.0.0.1:0", "--event-loops", "2"],
            environment: Self.environment(url)
        )
        for _ in 0..<20 {
            #expect(try Self.request(server.port, "/same-loop").body == "same")
        }
    }

    @Test func workersStartingTogetherMigrateEachFileOnce() async throws {
        let url = try await Self.newPostgresURL()
        let server = try ServerProcess(
            Self.probe,
            ["serve", "--bind", "127.0.0.1:0", "--workers", "3", "--log-level", "info"],
            environment: Self.environment(url, ["MIGRATE_ON_START": "1"])
        )
        #expect(server.waitForOutput("worker 3 .*serving", timeout: 30), "\(server.output)")
        let applied = server.output.components(separatedBy: "applied migration 001_users").count - 1
        #expect(applied == 1, "\(server.output)")
        #expect(try Self.request(server.port, "/users", ["-d", "name=ann"]).status == "201")
        #expect(try Self.migrate(url).output.contains("No migrations to apply."))
    }

    @Test func whileTheDatabaseIsDownRequestsGet503QuicklyThenSucceedAgain() async throws {
        let postgres = try PostgresServer.shared
        let url = try await Self.newPostgresURL()
        #expect(try Self.migrate(url).status == 0)
        let server = try ServerProcess(Self.probe, ["serve", "--bind", "127.0.0.1:0"], environment: Self.environment(url))
        #expect(try Self.request(server.port, "/users").status == "200")
        try postgres.stop()
        var statuses: [String] = []
        var bodies: [String] = []
        for _ in 0..<5 {
            // curl's --max-time 10 bounds each; a hang would show as status 000.
            let answer = try Self.request(server.port, "/users", ["-H", "Accept: application/json"])
            statuses.append(answer.status)
            bodies.append(answer.body)
        }
        try postgres.start()
        #expect(statuses == Array(repeating: "503", count: 5))
        #expect(bodies.allSatisfy { $0.contains("The database is unavailable") }, "\(bodies)")
        #expect(eventually(timeout: 15) { (try? Self.request(server.port, "/users").status) == "200" })
        #expect(try Self.request(server.port, "/users", ["-d", "name=after"]).status == "201")
    }

    /// `curl -N URL` in the background, its output collected as it arrives.
    final class Subscriber: @unchecked Sendable {
        let process = Process()
        private let output = PipeCollector()

        init(_ url: String) throws {
            self.process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            self.process.arguments = ["-s", "-N", "--max-time", "60", url]
            self.process.standardOutput = self.output.pipe
            try self.process.run()
        }

        var text: String { self.output.text }

        deinit { if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) } }
    }

    @Test func aBroadcastReachesSubscribersInEveryProcessAndSurvivesARestart() async throws {
        let postgres = try PostgresServer.shared
        let url = try await Self.newPostgresURL()
        let arguments = ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"]
        let a = try ServerProcess(Self.probe, arguments, environment: Self.environment(url))
        let b = try ServerProcess(Self.probe, arguments, environment: Self.environment(url))
        let subscribers = try [a, a, b, b].map { try Subscriber("http://127.0.0.1:\($0.port)/events") }
        #expect(eventually(timeout: 10) { subscribers.allSatisfy { $0.text.hasPrefix(": hello") } })
        #expect(a.waitForOutput("listening for broadcasts", timeout: 10))
        #expect(b.waitForOutput("listening for broadcasts", timeout: 10))

        #expect(try Self.request(a.port, "/broadcast", ["--data-binary", "from a"]).status == "202")
        #expect(try Self.request(b.port, "/broadcast", ["--data-binary", "from b"]).status == "202")
        #expect(
            eventually(timeout: 10) {
                subscribers.allSatisfy { $0.text.contains("data: from a\n\n") && $0.text.contains("data: from b\n\n") }
            },
            "\(subscribers.map(\.text))"
        )

        let big = String(repeating: "x", count: 8000)
        let refused = try Self.request(a.port, "/broadcast", ["--data-binary", big])
        #expect(refused.status == "413")
        #expect(refused.body.contains("at most 7999 bytes"))

        // After a restart each process listens again, on a new connection.
        try postgres.restart()
        #expect(eventually(timeout: 20) { a.output.components(separatedBy: "listening for broadcasts").count == 3 }, "\(a.output)")
        #expect(eventually(timeout: 20) { b.output.components(separatedBy: "listening for broadcasts").count == 3 }, "\(b.output)")
        #expect(eventually(timeout: 10) { (try? Self.request(b.port, "/broadcast", ["--data-binary", "after restart"]).status) == "202" })
        #expect(
            eventually(timeout: 10) { subscribers.allSatisfy { $0.text.contains("data: after restart\n\n") } },
            "\(subscribers.map(\.text))"
        )
    }
}
