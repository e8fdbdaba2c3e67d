/// A statement the database refused: a constraint it broke, bad SQL, a type mismatch. Catch
/// it to answer a client's mistake, e.g. a taken user name:
///
///     do {
///         try await db.execute("INSERT INTO users (name) VALUES (\(name))")
///     } catch let error as DatabaseError where error.kind == .uniqueViolation {
///         throw HTTPError(.conflict, "The name \(name) is taken.")
///     }
///
/// Left uncaught, it is a 500 whose details go to the log only.
public struct DatabaseError: Error, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case uniqueViolation
        case foreignKeyViolation
        case notNullViolation
        case checkViolation
        /// Anything else: a syntax error, a missing table, a type mismatch, …
        case other
    }

    public let kind: Kind
    /// The database's message.
    public let message: String
    /// PostgreSQL's SQLSTATE (`23505`); nil for SQLite.
    public let sqlState: String?
    /// The statement, with its placeholders (not its values, which may be private).
    public let statement: String

    public init(kind: Kind, message: String, sqlState: String? = nil, statement: String) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.statement = statement
    }

    public var description: String {
        "database error\(self.sqlState.map { " \($0)" } ?? ""): \(self.message) (in: \(self.statement))"
    }
}

/// A database URL, or a database for a feature, that cannot be used: what is wrong with it.
public struct DatabaseURLError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
