import Carafe
import CarafeSQL

/// The `world` table: random rows read one SELECT each, and written back.
struct WorldStore: Sendable {
    let database: Database

    static func select(_ id: Int) -> SQL { "SELECT id, randomnumber FROM world WHERE id = \(id)" }

    /// One random row.
    func random() async throws -> World {
        guard let row = try await self.database.first(Self.select(World.randomNumber())) else {
            throw HTTPError(.notFound, "no world row with that id")
        }
        return try World(row: row)
    }

    /// `count` random rows, each its own SELECT, all queued at once on one connection.
    func random(count: Int) async throws -> [World] {
        let results = try await self.database.rows(all: (0..<count).map { _ in Self.select(World.randomNumber()) })
        return try Self.worlds(results)
    }

    /// `count` random rows read as by `random(count:)`, each given a new random number, and
    /// written back in one UPDATE on the same connection (TFB allows a batched update; each
    /// row's read stays its own SELECT). The rows are updated in the order of their ids, so
    /// that concurrent requests lock them in one order and never deadlock. An id drawn twice
    /// is written once, and both of its entries answer the number written.
    func update(count: Int) async throws -> [World] {
        try await self.database.withConnection { connection in
            var worlds = try Self.worlds(try await connection.rows(all: (0..<count).map { _ in Self.select(World.randomNumber()) }))
            var numbers: [Int: Int] = [:]
            for index in worlds.indices {
                let number = World.randomNumber()
                worlds[index].randomNumber = number
                numbers[worlds[index].id] = number
            }
            for index in worlds.indices { worlds[index].randomNumber = numbers[worlds[index].id]! }
            let rows = numbers.sorted { $0.key < $1.key }
            let ids = "{" + rows.map { String($0.key) }.joined(separator: ",") + "}"
            let values = "{" + rows.map { String($0.value) }.joined(separator: ",") + "}"
            try await connection.execute(
                """
                UPDATE world SET randomnumber = new.randomnumber
                FROM (SELECT unnest(\(ids)::int[]) AS id, unnest(\(values)::int[]) AS randomnumber) AS new
                WHERE world.id = new.id
                """
            )
            return worlds
        }
    }

    static func worlds(_ results: [[SQLRow]]) throws -> [World] {
        try results.map { rows in
            guard let row = rows.first else { throw HTTPError(.notFound, "no world row with that id") }
            return try World(row: row)
        }
    }
}
