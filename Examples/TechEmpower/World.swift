import Carafe
import CarafeSQL

/// `{"message":"Hello, World!"}`.
struct Message: Content {
    let message: String
}

/// A row of the `world` table, as TFB's JSON names it.
struct World: Content {
    let id: Int
    var randomNumber: Int

    init(id: Int, randomNumber: Int) {
        self.id = id
        self.randomNumber = randomNumber
    }

    /// From `SELECT id, randomnumber ...`.
    init(row: SQLRow) throws {
        guard row.values.count == 2, case .int(let id) = row.values[0], case .int(let number) = row.values[1] else {
            throw HTTPError(.internalServerError, "a world row is (id, randomnumber), not \(row)")
        }
        self.init(id: Int(id), randomNumber: Int(number))
    }

    /// An id or a number of TFB's: 1...10000.
    static func randomNumber() -> Int { Int.random(in: 1...10_000) }
}

/// TFB's `queries` (and `count`): missing or not an integer is 1; then clamped to 1...500.
func queryCount(_ text: String?) -> Int {
    min(max(text.flatMap { Int($0) } ?? 1, 1), 500)
}

/// A row of the `fortune` table.
struct Fortune {
    let id: Int
    let message: String

    init(id: Int, message: String) {
        self.id = id
        self.message = message
    }

    init(row: SQLRow) throws {
        guard row.values.count == 2, case .int(let id) = row.values[0], case .text(let message) = row.values[1] else {
            throw HTTPError(.internalServerError, "a fortune row is (id, message), not \(row)")
        }
        self.init(id: Int(id), message: message)
    }

    /// What the template reads: `{{id}}`, `{{message}}` (escaped).
    var context: [String: Any] { ["id": self.id, "message": self.message] }
}
