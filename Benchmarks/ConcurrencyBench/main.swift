// The seed's "realistic" workload for docs/concurrency.md (scripts/bench-concurrency runs it):
// per request `SELECT pg_sleep(0.02)` and a keyed select on `test` (10,000 rows, from
// ../shared/bench/pg_harness.sh seed), as the same app would be written for each worker class.
//
//   GET /realistic           through Carafe's async database (req.db): the loop never waits
//   GET /realistic-blocking  through a blocking PostgreSQL client: the calling thread waits for
//                            each statement (psycopg2's way). Under --worker-class async it blocks
//                            its event loop (what a sync worker does, so run it with --workers N
//                            --event-loops 1); under threads, a pool thread.
//
// DATABASE_URL (else the PG* variables, as libpq reads them) names the server.
import Carafe
import CarafeDatabase
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

let environment = ProcessInfo.processInfo.environment
let url =
    environment["DATABASE_URL"]
    ?? "postgres://\(environment["PGUSER"] ?? "postgres")@\(environment["PGHOST"] ?? "127.0.0.1"):\(environment["PGPORT"] ?? "5432")/\(environment["PGDATABASE"] ?? "postgres")"
let poolSize = Int(environment["PG_POOL"] ?? "") ?? 56

let app = App()
app.useDatabase(try Database.open(url: url, pool: ConnectionPoolConfiguration(maxConnections: poolSize)))

app.get("/plaintext") { _ in "Hello, World!" }

app.get("/realistic") { req in
    try await req.db.execute("SELECT pg_sleep(0.02)")
    let row = try await req.db.first("SELECT b FROM test WHERE a = \(Int.random(in: 1...10_000))")
    return try row?.decode("b", as: String.self) ?? ""
}

/// A blocking PostgreSQL client: connections on a private event loop, and a caller that waits
/// on a semaphore for each statement, so its thread really blocks (never an event loop of the
/// server's: those may be the caller). One connection per thread that may call it.
final class BlockingPostgres: Sendable {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let configuration: PostgresConnection.Configuration
    private let idle = Mutex<[PostgresConnection]>([])
    private let opened = Mutex(0)
    private let available: DispatchSemaphore
    private let logger = Logger(label: "blocking-postgres")

    init(url: String, connections: Int) throws {
        self.configuration = try PostgresDriver.configuration(url: url)
        self.available = DispatchSemaphore(value: connections)
    }

    /// Runs `sql` with `binds` and waits for its rows.
    func query(_ sql: String, _ binds: [PostgresData] = []) throws -> [PostgresRow] {
        self.available.wait()
        defer { self.available.signal() }
        let connection =
            try self.idle.withLock { $0.popLast() }
            ?? self.wait { [self] in
                let id = self.opened.withLock {
                    $0 += 1
                    return $0
                }
                return PostgresConnection.connect(on: self.group.next(), configuration: self.configuration, id: id, logger: self.logger)
            }
        do {
            let result = try self.wait { connection.query(sql, binds) }
            self.idle.withLock { $0.append(connection) }
            return result.rows
        } catch {
            connection.close().whenComplete { _ in }  // (the future form; the async one is for tasks)
            throw error
        }
    }

    private func wait<T: Sendable>(_ start: @Sendable () -> EventLoopFuture<T>) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        start().whenComplete { outcome in
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }
}

// As many connections as threads may block on it: the pool's under threads, else the loops'.
let arguments = CommandLine.arguments
func option(_ name: String) -> Int? {
    arguments.firstIndex(of: name).flatMap { arguments.indices.contains($0 + 1) ? Int(arguments[$0 + 1]) : nil }
}
let blocking = try BlockingPostgres(url: url, connections: max(option("--threads") ?? 2, option("--event-loops") ?? 2))

app.get("/realistic-blocking") { _ in
    _ = try blocking.query("SELECT pg_sleep(0.02)")
    let rows = try blocking.query("SELECT b FROM test WHERE a = $1", [PostgresData(int: Int.random(in: 1...10_000))])
    return rows.first.flatMap { try? $0.decode(String.self) } ?? ""
}

try await app.run()
