import Foundation
import PostgresTestSupport
import ProcessTestSupport
import Testing

/// The `microblog` example on a real PostgreSQL that the test starts (`PostgresServer`):
/// the same flow as on SQLite, and the live timeline across worker processes, which
/// PostgreSQL's LISTEN/NOTIFY carries between them.
@Suite(.serialized) struct MicroblogPostgresTests {
    /// Usernames of their own for each test: the tests share one database.
    static func name(_ prefix: String) -> String { prefix + "_" + UUID().uuidString.prefix(8).lowercased() }

    @Test func signUpPostFollowAndReadTheTimelineOnPostgreSQL() throws {
        let postgres = try PostgresServer.shared
        let server = try MicroblogServer(databaseURL: postgres.url)
        let (annName, bobName) = (Self.name("ann"), Self.name("bob"))
        let ann = Browser(port: server.port)
        let bob = Browser(port: server.port)
        #expect(try ann.signUp(annName).status == 303)
        #expect(try bob.signUp(bobName).status == 303)
        #expect(try bob.write("hello from postgres").status == 303)
        #expect(try ann.submit("/u/\(bobName)", to: "/follow/\(bobName)", []).status == 303)
        let home = try ann.get("/")
        #expect(home.body.contains("hello from postgres"), "\(home.body)")
        #expect(home.body.contains("following 1"))
        #expect(try ann.write("").status == 400)
        #expect(try ann.post("/post", [("body", "forged")]).status == 400)
        #expect(try ann.signUp(bobName).status == 409)
        let profile = try ann.get("/api/users/\(annName)").json()
        #expect(profile["posts"] as? Int == 0)
        let timeline = try #require(try ann.get("/api/timeline").json()["posts"] as? [[String: Any]])
        #expect(timeline.map { $0["body"] as? String } == ["hello from postgres"])
        #expect(timeline.first?["created_at"] is String)
    }

    /// With `--workers 2`, a post reaches the live timelines open on either worker: every
    /// subscriber gets every post, and the access log shows that the posts and the streams
    /// were served by both workers, so some post crossed from one process to the other.
    @Test func aPostInOneWorkerReachesLiveSubscribersInEveryWorker() throws {
        let postgres = try PostgresServer.shared
        let accessLog = FileManager.default.temporaryDirectory.appendingPathComponent("microblog-access-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: accessLog) }
        let server = try MicroblogServer(databaseURL: postgres.url, arguments: ["--workers", "2", "--access-logfile", accessLog])
        let (annName, bobName) = (Self.name("ann"), Self.name("bob"))
        let ann = Browser(port: server.port)
        let bob = Browser(port: server.port)
        #expect(try ann.signUp(annName).status == 303)
        #expect(try bob.signUp(bobName).status == 303)
        #expect(try ann.submit("/u/\(bobName)", to: "/follow/\(bobName)", []).status == 303)

        var subscribers: [EventStreamReader] = []
        for _ in 0..<4 {
            let live = try EventStreamReader("http://127.0.0.1:\(server.port)/live", cookies: ann.jar)
            #expect(live.waitFor(": live"), "\(live.output.text)")
            subscribers.append(live)
        }
        for n in 1...10 {
            #expect(try bob.write("live post \(n) of \(bobName)").status == 303)
        }
        for (index, live) in subscribers.enumerated() {
            #expect(live.waitFor("live post 10 of \(bobName)"), "subscriber \(index): \(live.output.text)")
            let received = (1...10).filter { live.output.text.contains("live post \($0) of \(bobName)\"") }
            #expect(received.count == 10, "subscriber \(index) got posts \(received)")
        }
        subscribers.forEach { kill($0.process.processIdentifier, SIGTERM) }

        // Which worker served what: "... "POST /post HTTP/1.1" 303 ... <pid>".
        func workers(of request: String) -> Set<String> {
            let lines = ((try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? "").split(separator: "\n")
            return Set(lines.filter { $0.contains(request) }.compactMap { $0.split(separator: " ").last.map(String.init) })
        }
        let deadline = Date().addingTimeInterval(10)
        while workers(of: "GET /live ").isEmpty, Date() < deadline { usleep(50_000) }
        let both = workers(of: "POST /post ").union(workers(of: "GET /live "))
        #expect(both.count == 2, "posts and streams served by \(both); the access log: \((try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? "")")
    }
}
