import CarafeCore
import CarafeSQL
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// A postgres-nio connection as the pool lends it.
public final class PostgresSQLConnection: SQLConnection {
    /// The driver's connection, for what Carafe's API does not cover.
    public let connection: PostgresConnection
    let logger: Logger
    /// The statements this connection has prepared (see `PostgresStatementCache`).
    let statements = PostgresStatementCache()

    /// The logger with the id of the request running the query (`RequestID.current`), if any.
    var queryLogger: Logger {
        guard let id = RequestID.current else { return self.logger }
        var logger = self.logger
        logger[metadataKey: "request_id"] = "\(id)"
        return logger
    }

    init(_ connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    public var isClosed: Bool { self.connection.isClosed }

    public func close() async {
        try? await self.connection.close()
    }

    public func run(_ sql: SQL) async throws -> [SQLRow] {
        if let rows = try await self.runPrepared(sql) { return rows }
        return try await self.runUnnamed(sql)
    }

    /// Runs `sql` as an unnamed statement: parsed, planned and run, then forgotten.
    func runUnnamed(_ sql: SQL) async throws -> [SQLRow] {
        let bindings = PostgresBindings(sql.values)
        do {
            let rows = try await self.connection.query(
                PostgresQuery(unsafeSQL: sql.text(for: .postgres), binds: bindings),
                logger: self.queryLogger
            )
            var result: [SQLRow] = []
            var columns: [String]?
            for try await row in rows {
                let names = columns ?? row.map(\.columnName)
                columns = names
                result.append(SQLRow(columns: names, values: try row.map(Self.value)))
            }
            return result
        } catch {
            throw PostgresErrors.translate(error, statement: sql.text(for: .postgres))
        }
    }

    /// postgres-nio speaks only the extended protocol, one statement per query, so the script
    /// runs as one dynamic `EXECUTE` in a `DO` block, which takes several statements.
    public func runScript(_ script: String) async throws {
        var tag = "carafe_script"
        while script.contains("$\(tag)") { tag += "_" }
        let block = "DO $\(tag)_do$ BEGIN EXECUTE $\(tag)$\(script)$\(tag)$; END $\(tag)_do$"
        do {
            try await self.connection.query(PostgresQuery(unsafeSQL: block), logger: self.queryLogger)
        } catch {
            throw PostgresErrors.translate(error, statement: String(script.prefix(200)))
        }
    }

    /// A cell as an `SQLValue`, by its type.
    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard let bytes = cell.bytes else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid: return .int(try cell.decode(Int64.self))
        case .float4, .float8: return .double(try cell.decode(Double.self))
        case .bool: return .bool(try cell.decode(Bool.self))
        case .bytea: return .bytes(Array(bytes.readableBytesView))
        case .timestamp, .timestamptz, .date: return .date(try cell.decode(Date.self))
        case .uuid: return .uuid(try cell.decode(UUID.self))
        case .numeric: return .text("\(try cell.decode(Decimal.self))")
        default:
            if let text = try? cell.decode(String.self) { return .text(text) }
            return .bytes(Array(bytes.readableBytesView))
        }
    }
}

enum PostgresErrors {
    /// The `statement` of errors while connecting.
    static let connecting = "(connecting)"

    /// A lost or refused connection becomes `DatabaseUnavailable` (a 503); a refused statement
    /// a `DatabaseError` with the server's message; anything else stays as it is.
    static func translate(_ error: any Error, statement: String) -> any Error {
        let lost = statement == PostgresErrors.connecting ? "could not connect to it" : "the connection to it was lost"
        if error is ChannelError || error is IOError { return DatabaseUnavailable(lost) }
        if let error = error as? PostgresError { return Self.translate(error, lost: lost, statement: statement) }
        guard let error = error as? PSQLError else { return error }
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed:
            return DatabaseUnavailable(lost)
        case .server:
            return Self.serverError(
                state: error.serverInfo?[.sqlState] ?? "",
                message: error.serverInfo?[.message] ?? "error",
                statement: statement
            )
        default:
            return error
        }
    }

    /// A server's error as Carafe's: `DatabaseUnavailable` for a server going away, else a
    /// `DatabaseError` of the kind its SQLSTATE says.
    static func serverError(state: String, message: String, statement: String) -> any Error {
        if state.hasPrefix("57") || state.hasPrefix("08") {
            return DatabaseUnavailable("it is restarting or refusing connections (\(state))")
        }
        let kind: DatabaseError.Kind =
            switch state {
            case "23505": .uniqueViolation
            case "23503": .foreignKeyViolation
            case "23502": .notNullViolation
            case "23514": .checkViolation
            default: .other
            }
        return DatabaseError(kind: kind, message: message, sqlState: state, statement: statement)
    }
}

extension PostgresBindings {
    /// `values` bound in order, `$1` first, for an unnamed statement.
    init(_ values: [SQLValue]) {
        self.init(capacity: values.count)
        for value in values {
            switch value {
            case .null: self.appendNull()
            case .int(let value): self.append(value)
            case .double(let value): self.append(value)
            case .text(let value): self.append(value)
            case .bool(let value): self.append(value)
            case .bytes(let value): self.append(ByteBuffer(bytes: value))
            case .date(let value): self.append(value)
            case .uuid(let value): self.append(value)
            }
        }
    }
}
