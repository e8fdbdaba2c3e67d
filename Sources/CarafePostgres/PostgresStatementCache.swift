import CarafeSQL
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The statements one connection has prepared, by their text, so that a statement the app
/// runs again is only bound and executed: PostgreSQL parses and plans it once per connection,
/// not at every run, and the client sends three messages for it instead of five.
///
/// Only queries and data changes (`SELECT`, `INSERT`, `UPDATE`, `DELETE`, `WITH`, `VALUES`,
/// `TABLE`) are prepared; transaction control, DDL and session commands run as before, as
/// unnamed statements. Each parameter's placeholder gets a cast to the type it is bound as
/// (`$1::int8` for an `Int`), which is what postgres-nio's unnamed statements say in their
/// Parse message: PostgreSQL infers a prepared statement's parameter types from its text, and
/// one binding must fit every later one. A connection keeps at most `capacity` statements
/// (an app's statements are few; text that changes with its input, such as an `IN` list of
/// varying length, stops being prepared once the cache is full). A statement whose prepared
/// form went stale (a migration changed a table it reads, `DEALLOCATE ALL`) is dropped and
/// run unprepared once, then prepared again on its next run.
///
/// Not for PgBouncer in transaction pooling mode, which does not carry prepared statements
/// from one transaction to the next.
final class PostgresStatementCache: Sendable {
    /// The most statements a connection keeps prepared.
    static let capacity = 256

    private let statements = Mutex<[String: PreparedQuery]>([:])

    /// The prepared statement for `text`, preparing it on `connection` the first time; nil
    /// when `text` is not worth preparing or the cache is full.
    func statement(for text: String, on connection: PostgresConnection) async throws -> PreparedQuery? {
        let found: PreparedQuery?? = self.statements.withLock { statements in
            if let statement = statements[text] { return .some(statement) }
            return statements.count < Self.capacity ? .some(nil) : .none
        }
        switch found {
        case .some(.some(let statement)): return statement
        case .none: return nil
        case .some(.none): break
        }
        let statement = try await connection.prepare(query: text).get()
        self.statements.withLock { $0[text] = $0[text] ?? statement }
        return statement
    }

    /// Forgets `text`'s statement (it went stale on the server).
    func remove(_ text: String) {
        _ = self.statements.withLock { $0.removeValue(forKey: text) }
    }

    /// How many statements are prepared.
    var count: Int { self.statements.withLock { $0.count } }

    /// Whether a statement of this text is prepared: a query or a data change, by its first word.
    static func isPreparable(_ text: String) -> Bool {
        var word = ""
        for character in text.utf8 {
            switch character {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                word.append(Character(Unicode.Scalar(character | 0x20)))
                if word.utf8.count > 6 { return false }
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "("):
                if !word.isEmpty { return Self.preparableWords.contains(word) }
            default:
                return false
            }
        }
        return false
    }

    private static let preparableWords: Set<String> = ["select", "insert", "update", "delete", "with", "values", "table"]

    /// The statement's text with each placeholder cast to its binding's type: `$1::int8`.
    static func typedText(_ sql: SQL) -> String {
        sql.text { index, value in
            switch value {
            case .null: "$\(index)"
            case .int: "$\(index)::int8"
            case .double: "$\(index)::float8"
            case .text: "$\(index)::text"
            case .bool: "$\(index)::bool"
            case .bytes: "$\(index)::bytea"
            case .date: "$\(index)::timestamptz"
            case .uuid: "$\(index)::uuid"
            }
        }
    }

    /// The values as the binary bindings of a prepared statement, each in the type its
    /// placeholder is cast to.
    static func bindings(_ values: [SQLValue]) throws -> [PostgresData] {
        try values.map { value in
            var buffer = ByteBuffer()
            switch value {
            case .null: return PostgresData(type: .null, value: nil)
            case .int(let value): try value.encode(into: &buffer, context: .default)
            case .double(let value): try value.encode(into: &buffer, context: .default)
            case .text(let value): try value.encode(into: &buffer, context: .default)
            case .bool(let value): try value.encode(into: &buffer, context: .default)
            case .bytes(let value): buffer.writeBytes(value)
            case .date(let value): try value.encode(into: &buffer, context: .default)
            case .uuid(let value): try value.encode(into: &buffer, context: .default)
            }
            return PostgresData(type: .null, value: buffer)  // the type is the statement's, not sent in Bind
        }
    }

    /// Whether `error` says that the prepared form of a statement no longer fits: its result
    /// type changed (`0A000`, "cached plan must not change result type") or it is gone (`26000`).
    static func isStale(_ error: any Error) -> Bool {
        let state = PostgresErrors.sqlState(error)
        return state == "26000" || (state == "0A000" && PostgresErrors.message(error).contains("cached plan"))
    }
}

extension PostgresSQLConnection {
    /// Runs `sql` as a prepared statement if it is one to prepare (see `PostgresStatementCache`);
    /// nil if it is not, or the cache is full. A stale statement is dropped and `sql` run unnamed.
    func runPrepared(_ sql: SQL) async throws -> [SQLRow]? {
        let text = PostgresStatementCache.typedText(sql)
        guard PostgresStatementCache.isPreparable(text) else { return nil }
        do {
            guard let statement = try await self.statements.statement(for: text, on: self.connection) else { return nil }
            return try Self.rows(try await statement.execute(try PostgresStatementCache.bindings(sql.values)).get(), binary: true)
        } catch  where PostgresStatementCache.isStale(error) {
            self.statements.remove(text)
            return try await self.runUnnamed(sql)
        } catch {
            throw PostgresErrors.translate(error, statement: sql.text(for: .postgres))
        }
    }

    /// Prepares each statement that is one to prepare, then queues all of them on the
    /// connection at once: postgres-nio sends each as soon as the one before it is answered,
    /// with no return to this task in between. Each one runs on its own (autocommitted unless
    /// in a transaction), as by `run`.
    public func run(all statements: [SQL]) async throws -> [[SQLRow]] {
        var queued: [EventLoopFuture<[PostgresRow]>] = []
        queued.reserveCapacity(statements.count)
        var texts: [String?] = []
        texts.reserveCapacity(statements.count)
        do {
            for sql in statements {
                let text = PostgresStatementCache.typedText(sql)
                if PostgresStatementCache.isPreparable(text),
                    let statement = try await self.statements.statement(for: text, on: self.connection)
                {
                    texts.append(text)
                    queued.append(statement.execute(try PostgresStatementCache.bindings(sql.values)))
                } else {
                    texts.append(nil)
                    queued.append(self.queueUnnamed(sql))
                }
            }
        } catch {
            // A statement failed to prepare: let what was queued finish, then report it.
            for future in queued { _ = try? await future.get() }
            throw PostgresErrors.translate(error, statement: statements[queued.count].text(for: .postgres))
        }
        var results: [[SQLRow]] = []
        results.reserveCapacity(statements.count)
        var firstError: (any Error)?
        for (index, future) in queued.enumerated() {
            do {
                results.append(try Self.rows(try await future.get(), binary: texts[index] != nil))
            } catch {
                if let text = texts[index], PostgresStatementCache.isStale(error) {
                    self.statements.remove(text)
                    do {
                        results.append(try await self.runUnnamed(statements[index]))
                        continue
                    } catch {
                        firstError = firstError ?? error
                    }
                } else {
                    firstError = firstError ?? PostgresErrors.translate(error, statement: statements[index].text(for: .postgres))
                }
                results.append([])
            }
        }
        if let firstError { throw firstError }
        return results
    }

    /// Queues `sql` as an unnamed statement; its rows when it has run.
    private func queueUnnamed(_ sql: SQL) -> EventLoopFuture<[PostgresRow]> {
        let bindings = PostgresBindings(sql.values)
        let collected = CollectedRows()
        return self.connection.query(PostgresQuery(unsafeSQL: sql.text(for: .postgres), binds: bindings), logger: self.queryLogger) { row in
            collected.rows.withLock { $0.append(row) }
        }.map { _ in collected.rows.withLock { $0 } }
    }

    /// Rows as Carafe's, their column names shared. A prepared statement's rows come in binary
    /// (every Bind of postgres-nio asks for it), but postgres-nio 1.33.2 labels them with the
    /// format of the statement's description, text: `binary` reads them as what they are.
    static func rows(_ rows: [PostgresRow], binary: Bool = false) throws -> [SQLRow] {
        guard let first = rows.first else { return [] }
        let columns = first.map(\.columnName)
        guard binary else { return try rows.map { SQLRow(columns: columns, values: try $0.map(Self.value)) } }
        return try rows.map { row in
            SQLRow(
                columns: columns,
                values: try row.map { cell in
                    try Self.value(
                        PostgresCell(
                            bytes: cell.bytes,
                            dataType: cell.dataType,
                            format: .binary,
                            columnName: cell.columnName,
                            columnIndex: cell.columnIndex
                        )
                    )
                }
            )
        }
    }
}

extension PostgresErrors {
    /// postgres-nio's older error type, which its prepared statements throw.
    static func translate(_ error: PostgresError, lost: String, statement: String) -> any Error {
        switch error {
        case .connectionClosed: return DatabaseUnavailable(lost)
        case .server(let message):
            return Self.serverError(
                state: message.fields[.sqlState] ?? "",
                message: message.fields[.message] ?? "error",
                statement: statement
            )
        case .protocol: return error
        }
    }

    /// The SQLSTATE of a server's error, from either of postgres-nio's error types.
    static func sqlState(_ error: any Error) -> String? {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] }
        if case .server(let message) = error as? PostgresError { return message.fields[.sqlState] }
        return nil
    }

    /// The message of a server's error, from either of postgres-nio's error types.
    static func message(_ error: any Error) -> String {
        if let error = error as? PSQLError { return error.serverInfo?[.message] ?? "" }
        if case .server(let message) = error as? PostgresError { return message.fields[.message] ?? "" }
        return ""
    }
}

/// The rows of a queued statement, as they arrive.
private final class CollectedRows: Sendable {
    let rows = Mutex<[PostgresRow]>([])
}
