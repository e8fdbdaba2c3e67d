import Foundation
import Testing

/// The `techempower` example over real sockets against a real PostgreSQL, checked as TFB's
/// verifier checks each test type: status, headers (Server, Date, Content-Length, the type's
/// Content-Type), the body's shape and values, the clamping of `queries`, the escaping and
/// order of fortunes, and updates that reach the database.
@Suite(.serialized) struct TechEmpowerTests {
    /// One server for the suite, made on first use.
    static let shared = Task { try await TechEmpowerServer() }

    var server: TechEmpowerServer { get async throws { try await Self.shared.value } }

    /// TFB's headers on every answer: Server, Date, Content-Length (matching the body), and
    /// the type's Content-Type.
    func expectHeaders(_ answer: TechEmpowerServer.Answer, contentType: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(answer.status == 200, "\(answer.text)", sourceLocation: sourceLocation)
        #expect(answer.headers["server"] == "Carafe", sourceLocation: sourceLocation)
        #expect(
            answer.headers["date"].map { $0.hasSuffix(" GMT") && $0.count == 29 } == true,
            "\(answer.headers)",
            sourceLocation: sourceLocation
        )
        #expect(answer.headers["content-length"] == String(answer.body.count), sourceLocation: sourceLocation)
        #expect(answer.headers["content-type"] == contentType, sourceLocation: sourceLocation)
        #expect(answer.headers["transfer-encoding"] == nil, sourceLocation: sourceLocation)
    }

    /// A World object as TFB's verifier reads one: exactly `id` and `randomNumber`, integers in 1...10000.
    func world(_ value: Any, sourceLocation: SourceLocation = #_sourceLocation) -> (id: Int, number: Int)? {
        guard let object = value as? [String: Any], Set(object.keys) == ["id", "randomNumber"],
            let id = object["id"] as? Int, let number = object["randomNumber"] as? Int,
            (1...10_000).contains(id), (1...10_000).contains(number)
        else {
            Issue.record("not a World object: \(value)", sourceLocation: sourceLocation)
            return nil
        }
        return (id, number)
    }

    @Test func plaintextAndJSON() async throws {
        let server = try await self.server
        let plaintext = try server.get("/plaintext")
        self.expectHeaders(plaintext, contentType: "text/plain")
        #expect(plaintext.text == "Hello, World!")
        let json = try server.get("/json")
        self.expectHeaders(json, contentType: "application/json")
        #expect(try json.json() as? [String: String] == ["message": "Hello, World!"])
    }

    @Test func dbAnswersOneRowAsItIsInTheDatabase() async throws {
        let server = try await self.server
        let table = try await server.worlds()
        var ids: Set<Int> = []
        for _ in 0..<20 {
            let answer = try server.get("/db")
            self.expectHeaders(answer, contentType: "application/json")
            let world = try #require(self.world(try answer.json()))
            #expect(table[world.id] == world.number)
            ids.insert(world.id)
        }
        #expect(ids.count > 10, "random rows: \(ids)")
    }

    @Test func queriesClampsItsCountAndAnswersRowsAsTheyAreInTheDatabase() async throws {
        let server = try await self.server
        let table = try await server.worlds()
        let counts = [
            "": 1, "?queries=": 1, "?queries=foo": 1, "?queries=0": 1, "?queries=-5": 1, "?queries=1": 1,
            "?queries=20": 20, "?queries=500": 500, "?queries=501": 500, "?queries=100000": 500, "?queries=2.5": 1,
        ]
        for (query, count) in counts.sorted(by: { $0.key < $1.key }) {
            let answer = try server.get("/queries" + query)
            self.expectHeaders(answer, contentType: "application/json")
            let rows = try #require(try answer.json() as? [Any], "\(query): \(answer.text.prefix(200))")
            #expect(rows.count == count, "\(query)")
            for row in rows {
                guard let world = self.world(row) else { break }
                #expect(table[world.id] == world.number, "\(query): \(world)")
            }
        }
    }

    @Test func fortunesAreEscapedSortedAndIncludeTheOneAddedAtRequestTime() async throws {
        let server = try await self.server
        let answer = try server.get("/fortunes")
        self.expectHeaders(answer, contentType: "text/html; charset=utf-8")
        let expected =
            "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>"
            + "<tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a browser alert box.&quot;);&lt;/script&gt;</td></tr>"
            + "<tr><td>4</td><td>A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1</td></tr>"
            + "<tr><td>5</td><td>A computer program does what you tell it to do, not what you want it to do.</td></tr>"
            + "<tr><td>2</td><td>A computer scientist is someone who fixes things that aren&#39;t broken.</td></tr>"
            + "<tr><td>8</td><td>A list is only as strong as its weakest link. — Donald Knuth</td></tr>"
            + "<tr><td>0</td><td>Additional fortune added at request time.</td></tr>"
            + "<tr><td>3</td><td>After enough decimal places, nobody gives a damn.</td></tr>"
            + "<tr><td>7</td><td>Any program that runs right is obsolete.</td></tr>"
            + "<tr><td>10</td><td>Computers make very fast, very accurate mistakes.</td></tr>"
            + "<tr><td>6</td><td>Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen</td></tr>"
            + "<tr><td>9</td><td>Feature: A bug with seniority.</td></tr>"
            + "<tr><td>1</td><td>fortune: No such file or directory</td></tr>"
            + "<tr><td>12</td><td>フレームワークのベンチマーク</td></tr>"
            + "</table></body></html>"
        #expect(answer.text.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
    }

    @Test func fortunesAreReadAtEveryRequest() async throws {
        let server = try await self.server
        try await server.database.execute("INSERT INTO fortune (id, message) VALUES (\(13), \("<b>Bold & 'quoted'</b>"))")
        let answer = try server.get("/fortunes")
        try await server.database.execute("DELETE FROM fortune WHERE id = \(13)")
        #expect(
            answer.text.contains("<tr><td>13</td><td>&lt;b&gt;Bold &amp; &#39;quoted&#39;&lt;/b&gt;</td></tr><tr><td>11</td>"),
            "\(answer.text)"
        )
        #expect(!(try server.get("/fortunes").text.contains("<td>13</td>")))
    }

    @Test func updatesWriteEveryRowTheyAnswer() async throws {
        let server = try await self.server
        let before = try await server.worlds()
        let answer = try server.get("/updates?queries=500")
        self.expectHeaders(answer, contentType: "application/json")
        let rows = try #require(try answer.json() as? [Any])
        #expect(rows.count == 500)
        let after = try await server.worlds()
        var changed = 0
        var answered: [Int: Int] = [:]
        for row in rows {
            guard let world = self.world(row) else { break }
            #expect(answered[world.id] == nil || answered[world.id] == world.number, "id \(world.id) answered twice with two numbers")
            answered[world.id] = world.number
            #expect(after[world.id] == world.number, "row \(world.id): answered \(world.number), stored \(after[world.id] ?? -1)")
            if before[world.id] != world.number { changed += 1 }
        }
        #expect(changed > 450, "only \(changed) of 500 rows got a new number")
        // Rows not answered are untouched.
        #expect(after.filter { answered[$0.key] == nil && before[$0.key] != $0.value }.isEmpty)
        for (query, count) in ["": 1, "?queries=foo": 1, "?queries=0": 1, "?queries=3": 3, "?queries=501": 500] {
            let rows = try #require(try server.get("/updates" + query).json() as? [Any])
            #expect(rows.count == count, "\(query)")
        }
    }

    @Test func concurrentUpdatesOfTheSameRowsNeitherDeadlockNorFail() async throws {
        let server = try await self.server
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<16 {
                group.addTask { try server.get("/updates?queries=500").status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 16), "\(server.process.output.suffix(2000))")
    }

    @Test func cachedQueriesClampsItsCountAndAnswersTheTable() async throws {
        // A server of its own, so that the table has not changed since its copy was made.
        let server = try await TechEmpowerServer(pool: 2)
        let table = try await server.worlds()
        await server.database.shutdown()  // (postgres-nio traps on a connection dropped open)
        for (query, count) in [
            "": 1, "?count=foo": 1, "?count=0": 1, "?count=10": 10, "?count=500": 500, "?count=501": 500, "?queries=7": 1,
        ] {
            let answer = try server.get("/cached-queries" + query)
            self.expectHeaders(answer, contentType: "application/json")
            let rows = try #require(try answer.json() as? [Any])
            #expect(rows.count == count, "\(query)")
            for row in rows {
                guard let world = self.world(row) else { break }
                #expect(table[world.id] == world.number)
            }
        }
    }
}
