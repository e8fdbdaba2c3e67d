/// Something that runs SQL: a `Database` (each statement on a connection from its pool) or a
/// `Transaction` (every statement on its one connection). Both read the same:
///
///     try await db.execute("INSERT INTO users (name) VALUES (\(name))")
///     let users = try await db.query("SELECT id, name FROM users ORDER BY id", as: User.self)
///     let user = try await db.first("SELECT id, name FROM users WHERE id = \(id)", as: User.self)
///     let count = try await db.first("SELECT count(*) FROM users", as: Int.self) ?? 0
public protocol SQLExecutor: Sendable {
    var dialect: SQLDialect { get }
    /// Runs one statement and returns its rows.
    func rows(_ sql: SQL) async throws -> [SQLRow]
}

extension SQLExecutor {
    /// Runs a statement for its effect (INSERT, UPDATE, DELETE, DDL).
    public func execute(_ sql: SQL) async throws {
        _ = try await self.rows(sql)
    }

    /// Runs a query and decodes each row into `T` (see `SQLRow.decode(as:)`).
    public func query<T: Decodable>(_ sql: SQL, as type: T.Type) async throws -> [T] {
        try await self.rows(sql).map { try $0.decode(as: T.self) }
    }

    /// The first row of a query decoded into `T`, or nil if there is none: return it from a
    /// handler, and nil becomes a 404.
    public func first<T: Decodable>(_ sql: SQL, as type: T.Type) async throws -> T? {
        try await self.rows(sql).first?.decode(as: T.self)
    }

    /// The first row of a query, or nil.
    public func first(_ sql: SQL) async throws -> SQLRow? {
        try await self.rows(sql).first
    }
}
