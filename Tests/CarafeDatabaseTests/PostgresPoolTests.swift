import CarafeDatabase
import CarafeHTTP
import Foundation
import NIOPosix
import PostgresTestSupport
import ProcessTestSupport
import Testing

/// The PostgreSQL pool itself: its bounds, its event loops, and a server that goes away and
/// comes back.
@Suite struct PostgresPoolTests {
    @Test func aQueryThatCannotGetAConnectionInTimeGetsDatabaseUnavailable() async throws {
        let db = try await Backend.postgres.makeDatabase(
            pool: ConnectionPoolConfiguration(maxConnections: 1, waitTimeout: .milliseconds(300))
        )
        defer { Task { await db.shutdown() } }
        async let holder: Void = db.execute("SELECT pg_sleep(3)")
        try await Task.sleep(for: .milliseconds(500))  // the one connection is busy for 2.5 s more
        let error = await #expect(throws: DatabaseUnavailable.self) { try await db.execute("SELECT 1") }
        #expect(error?.httpError.status == .serviceUnavailable)
        #expect(error?.reason.contains("busy") == true)
        try await holder
        #expect(try await db.first("SELECT 1", as: Int.self) == 1)
    }

    @Test func idleConnectionsAreClosedAfterTheIdleTimeout() async throws {
        let db = try await Backend.postgres.makeDatabase(
            pool: ConnectionPoolConfiguration(maxConnections: 2, idleTimeout: .milliseconds(300))
        )
        defer { Task { await db.shutdown() } }
        let pool = try #require(db.driver as? PostgresDriver).pool
        #expect(try await db.first("SELECT 1", as: Int.self) == 1)
        #expect(pool.openConnections == 1)
        for _ in 0..<100 where pool.openConnections > 0 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(pool.openConnections == 0)
        #expect(try await db.first("SELECT 2", as: Int.self) == 2)  // a new one is opened
    }

    @Test func aServerThatNeverAnswersTheStartupFailsAfterTheConnectTimeout() async throws {
        // A socket that listens but never accepts: TCP connects (the kernel's backlog), and
        // then nothing answers PostgreSQL's startup message.
        let (fd, port) = try #require(listeningSocketThatNeverAccepts())
        defer { close(fd) }
        let db = try Database.open(
            url: "postgres://u:p@127.0.0.1:\(port)/db",
            pool: ConnectionPoolConfiguration(maxConnections: 1, connectTimeout: .milliseconds(500))
        )
        defer { Task { await db.shutdown() } }
        let error = await #expect(throws: DatabaseUnavailable.self) { try await db.execute("SELECT 1") }
        #expect(error?.reason.contains("no connection within") == true, "\(String(describing: error))")
        #expect(try #require(db.driver as? PostgresDriver).pool.openConnections == 0)
    }

    @Test func eachEventLoopGetsConnectionsOfItsOwn() async throws {
        let db = try await Backend.postgres.makeDatabase(pool: ConnectionPoolConfiguration(maxConnections: 2))
        let driver = try #require(db.driver as? PostgresDriver)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        var matches = 0
        for round in 0..<20 {
            let loop = loops[round % 2]
            // As Carafe runs a request: a task whose executor is the loop.
            let same = try await Task(executorPreference: EventLoopTaskExecutor(loop)) {
                try await driver.pool.withConnection {
                    $0.connection.eventLoop === loop && MultiThreadedEventLoopGroup.currentEventLoop === loop
                }
            }.value
            if same { matches += 1 }
        }
        #expect(matches == 20)
        #expect(driver.pool.openConnections == 2, "one connection per loop: the queries ran one at a time")
        // As a server does: close the pool's connections while their loops still run.
        await db.shutdown()
        #expect(driver.pool.openConnections == 0)
        try await group.shutdownGracefully()
    }

    @Test func brokenConnectionsAreReplacedAfterARestartAndTheGapFailsFast() async throws {
        let server = try PostgresServer.shared
        let db = try await Backend.postgres.makeDatabase(pool: ConnectionPoolConfiguration(maxConnections: 4, connectTimeout: .seconds(2)))
        defer { Task { await db.shutdown() } }
        // Fill the pool with idle connections.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { try await db.execute("SELECT pg_sleep(0.1)") } }
            try await group.waitForAll()
        }
        try server.stop()
        do {
            // While it is down: each query fails with DatabaseUnavailable, promptly.
            for _ in 0..<5 {
                let started = ContinuousClock.now
                await #expect(throws: DatabaseUnavailable.self) { try await db.execute("SELECT 1") }
                #expect(ContinuousClock.now - started < .seconds(5), "a query during the outage must fail, not hang")
            }
        }
        try server.start()
        // The pooled connections died with the server; new ones are opened.
        var answer: Int?
        for _ in 0..<50 where answer == nil {
            answer = try? await db.first("SELECT 42", as: Int.self)
            if answer == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(answer == 42)
        for _ in 0..<10 { #expect(try await db.first("SELECT 1", as: Int.self) == 1) }
    }
}
