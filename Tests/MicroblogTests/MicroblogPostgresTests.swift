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
        #expect(try ann.write("").status == 422)
        #expect(
            try Browser(port: server.port).signUp(annName.uppercased()).status == 409,
            "names are unique in any case, on PostgreSQL too"
        )
        #expect(try ann.post("/post", [("body", "forged")]).status == 400)
        #expect(try ann.signUp(bobName).status == 409)
        let profile = try ann.get("/api/users/\(annName)").json()
        #expect(profile["posts"] as? Int == 0)
        let timeline = try #require(try ann.get("/api/timeline").json()["posts"] as? [[String: Any]])
        #expect(timeline.map { $0["body"] as? String } == ["hello from postgres"])
        #expect(timeline.first?["created_at"] is String)
    }

    /// With `--workers 2`, a post reaches the live timelines open on either worker: every
    /// subscriber gets every post, and the streams' sockets and the access log's lines for the
    /// posts show both workers, so some post crossed from one process to the other.
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
        // Which worker holds which stream (its socket), and which served the posts (the access log).
        let streams = withExtendedLifetime(subscribers) { establishedConnections(on: server.port, of: childPIDs(of: server.process.pid)) }
        let lines = ((try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? "").split(separator: "\n")
        let posters = Set(
            lines.filter { $0.contains("POST /post ") }.compactMap {
                $0.split(separator: " ").last.flatMap { Int32($0.dropFirst().dropLast()) }
            }
        )
        #expect(streams.values.reduce(0, +) >= 4, "\(streams)")
        #expect(
            Set(streams.keys).union(posters).count == 2,
            "streams held by \(streams), posts served by \(posters): no post crossed workers"
        )
    }

    /// How many established TCP connections to `port` each of `pids` holds (from /proc).
    func establishedConnections(on port: Int, of pids: [Int32]) -> [Int32: Int] {
        var owner: [String: Int32] = [:]  // socket inode → process
        for pid in pids {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            for fd in fds {
                guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                    link.hasPrefix("socket:[")
                else { continue }
                owner[String(link.dropFirst(8).dropLast())] = pid
            }
        }
        var counts: [Int32: Int] = [:]
        // Read to the end: /proc says its files are empty, and Foundation may stop at the first page.
        let table =
            (try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/net/tcp")).readToEnd()).flatMap {
                $0.map { String(decoding: $0, as: UTF8.self) }
            } ?? ""
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            // local address (hex ip:port), remote address, state (01: established), …, inode (10th)
            guard fields.count > 9, fields[3] == "01", fields[1].hasSuffix(String(format: ":%04X", port)),
                let pid = owner[String(fields[9])]
            else { continue }
            counts[pid, default: 0] += 1
        }
        return counts
    }
}
