import Carafe
import CarafeSQL
import Synchronization

/// An in-memory copy of the `world` table for `/cached-queries` (TFB's caching test, the only
/// one where database results may be kept): read whole on first use, then never again.
final class WorldCache: Sendable {
    let database: Database
    private let loading = Mutex<Task<[Int: Int], any Error>?>(nil)

    init(database: Database) {
        self.database = database
    }

    /// `count` random rows of the copy.
    func random(count: Int) async throws -> [World] {
        let numbers = try await self.table()
        return try (0..<count).map { _ in
            let id = World.randomNumber()
            guard let number = numbers[id] else { throw HTTPError(.notFound, "no world row with id \(id)") }
            return World(id: id, randomNumber: number)
        }
    }

    /// The table by id; loaded once (a failed load is tried again by the next request).
    private func table() async throws -> [Int: Int] {
        let task = self.loading.withLock { loading in
            if let task = loading { return task }
            let task = Task { [database] in
                var numbers: [Int: Int] = [:]
                for row in try await database.rows("SELECT id, randomnumber FROM world") {
                    let world = try World(row: row)
                    numbers[world.id] = world.randomNumber
                }
                return numbers
            }
            loading = task
            return task
        }
        do {
            return try await task.value
        } catch {
            self.loading.withLock { if $0 == task { $0 = nil } }
            throw error
        }
    }
}
