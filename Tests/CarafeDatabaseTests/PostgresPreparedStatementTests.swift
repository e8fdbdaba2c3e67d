import CarafeDatabase
import Foundation
import PostgresTestSupport
import Testing

/// The PostgreSQL driver's statement cache and queued batches, against a real server: a
/// statement is prepared once per connection and bound after that; a statement whose
/// prepared form went stale still runs; `rows(all:)` answers in order and reports failures.
@Suite struct PostgresPreparedStatementTests {
    func database() async throws -> Database {
        try await Backend.postgres.makeDatabase(pool: ConnectionPoolConfiguration(maxConnections: 1))
    }

    @Test func aRepeatedStatementIsPreparedOnceAndBoundAfterThat() async throws {
        let db = try await self.database()
        defer { Task { await db.shutdown() } }
        try await db.execute("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
        for id in 1...5 { try await db.execute("INSERT INTO items (id, name) VALUES (\(id), \("item \(id)"))") }
        try await db.withConnection { connection in
            for id in 1...5 {
                #expect(try await connection.first("SELECT name FROM items WHERE id = \(id)", as: String.self) == "item \(id)")
            }
            let prepared = try await connection.rows(
                "SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'SELECT name FROM%'"
            )
            // One SELECT (with its parameter typed) and one INSERT: prepared once each, whatever the values.
            let texts = prepared.compactMap { $0.values.first.flatMap(String.init(sqlValue:)) }.sorted()
            #expect(texts == ["SELECT name FROM items WHERE id = $1::int8"], "\(texts)")
        }
        let inserts = try await db.rows("SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO items%'")
        #expect(inserts.count == 1, "\(inserts)")
    }

    @Test func everyKindOfValueBindsToAPreparedStatement() async throws {
        let db = try await self.database()
        defer { Task { await db.shutdown() } }
        try await db.execute("CREATE TABLE kinds (i int8, d float8, t text, b bool, y bytea, at timestamptz, u uuid, n int4)")
        let at = Date(timeIntervalSince1970: 1_700_000_000)
        let token = UUID()
        for _ in 0..<2 {
            try await db.execute(
                "INSERT INTO kinds VALUES (\(Int64(42)), \(2.5), \("héllo — ✓"), \(true), \([UInt8]([0, 255, 7])), \(at), \(token), \(Int?.none))"
            )
        }
        let rows = try await db.rows("SELECT i, d, t, b, y, at, u, n FROM kinds WHERE i = \(42) AND t = \("héllo — ✓")")
        #expect(rows.count == 2)
        #expect(
            rows.first?.values == [
                .int(42), .double(2.5), .text("héllo — ✓"), .bool(true), .bytes([0, 255, 7]), .date(at), .uuid(token), .null,
            ]
        )
    }

    @Test func aStatementWhoseTableChangedStillRuns() async throws {
        let db = try await self.database()
        defer { Task { await db.shutdown() } }
        try await db.execute("CREATE TABLE changing (a int)")
        try await db.execute("INSERT INTO changing VALUES (\(1))")
        #expect(try await db.rows("SELECT * FROM changing WHERE a = \(1)").first?.columns == ["a"])
        try await db.execute("ALTER TABLE changing ADD COLUMN b text DEFAULT 'x'")
        // The prepared form's result type no longer fits: PostgreSQL refuses it, and the driver runs it afresh.
        #expect(try await db.rows("SELECT * FROM changing WHERE a = \(1)").first?.values == [.int(1), .text("x")])
        #expect(try await db.rows("SELECT * FROM changing WHERE a = \(1)").first?.columns == ["a", "b"])
        try await db.withConnection { connection in
            try await connection.execute("DEALLOCATE ALL")
            #expect(try await connection.first("SELECT b FROM changing WHERE a = \(1)", as: String.self) == "x")
        }
    }

    @Test func errorsOfPreparedStatementsAreDatabaseErrors() async throws {
        let db = try await self.database()
        defer { Task { await db.shutdown() } }
        try await db.execute("CREATE TABLE uniques (id int PRIMARY KEY)")
        try await db.execute("INSERT INTO uniques VALUES (\(1))")
        let error = await #expect(throws: DatabaseError.self) { try await db.execute("INSERT INTO uniques VALUES (\(1))") }
        #expect(error?.kind == .uniqueViolation)
        #expect(error?.statement == "INSERT INTO uniques VALUES ($1)")
        let syntax = await #expect(throws: DatabaseError.self) { try await db.execute("SELECT FROM WHERE \(1)") }
        #expect(syntax?.sqlState == "42601")
    }

    @Test func rowsOfAllAnswerInOrderOnOneConnection() async throws {
        let db = try await self.database()
        defer { Task { await db.shutdown() } }
        let statements: [SQL] = (1...30).map { "SELECT \($0) * 2 AS doubled, pg_backend_pid() AS pid" }
        let results = try await db.rows(all: statements + ["SHOW server_version"])
        #expect(results.count == 31)
        #expect(results.prefix(30).map { $0.first?["doubled"] } == (1...30).map { .int(Int64($0 * 2)) })
        #expect(Set(results.prefix(30).compactMap { $0.first?["pid"] }).count == 1)
        #expect(results.last?.first?.columns == ["server_version"])
    }

    @Test func aFailingStatementInABatchIsReportedAfterTheOthersRan() async throws {
        let db = try await self.database()
        defer { Task { await db.shutdown() } }
        try await db.execute("CREATE TABLE batch (id int PRIMARY KEY)")
        let error = await #expect(throws: DatabaseError.self) {
            try await db.rows(all: [
                "INSERT INTO batch VALUES (\(1))", "INSERT INTO batch VALUES (\(1))", "INSERT INTO batch VALUES (\(2))",
            ])
        }
        #expect(error?.kind == .uniqueViolation)
        #expect(try await db.query("SELECT id FROM batch ORDER BY id", as: Int.self) == [1, 2])
        // In a transaction, the first failure aborts it: nothing is committed.
        await #expect(throws: TransactionAborted.self) {
            try await db.transaction { tx in
                _ = try? await tx.rows(all: ["INSERT INTO batch VALUES (\(3))", "INSERT INTO batch VALUES (\(1))"])
            }
        }
        #expect(try await db.query("SELECT id FROM batch ORDER BY id", as: Int.self) == [1, 2])
    }
}
