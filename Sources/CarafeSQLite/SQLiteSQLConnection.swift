import CarafeSQL
import Foundation
import NIOCore
import SQLiteNIO
import Synchronization

/// A sqlite-nio connection as the pool lends it.
public final class SQLiteSQLConnection: SQLConnection {
    /// The driver's connection, for what Carafe's API does not cover.
    public let connection: SQLiteConnection

    init(_ connection: SQLiteConnection) {
        self.connection = connection
    }

    public var isClosed: Bool { self.connection.isClosed }

    /// Closes the connection even from a cancelled task: the async `close()` of sqlite-nio
    /// skips the work when its task is cancelled, which would leak the handle (and trap in a
    /// debug build) when a caller gives up while its connection is being set up.
    public func close() async {
        try? await self.connection.close().get()
    }

    public func run(_ sql: SQL) async throws -> [SQLRow] {
        let binds = sql.values.map(Self.data)
        let rows = Mutex<[SQLRow]>([])
        do {
            try await self.connection.query(sql.text(for: .sqlite), binds) { row in
                let columns = row.columns
                let converted = SQLRow(columns: columns.map(\.name), values: columns.map { Self.value($0.data) })
                rows.withLock { $0.append(converted) }
            }
        } catch {
            throw Self.translate(error, statement: sql.text(for: .sqlite))
        }
        return rows.withLock { $0 }
    }

    public func runScript(_ script: String) async throws {
        for statement in SQLiteScript.statements(in: script) {
            do {
                try await self.connection.query(statement, []) { _ in }
            } catch {
                throw Self.translate(error, statement: statement)
            }
        }
    }

    /// Dates are stored as UTC text, `2026-11-23 12:00:00.000`: SQLite's date functions and
    /// `CURRENT_TIMESTAMP` use that form, so they compare and sort together.
    static func data(_ value: SQLValue) -> SQLiteData {
        switch value {
        case .null: .null
        case .int(let value): .integer(SQLiteInt64(value))
        case .double(let value): .float(value)
        case .text(let value): .text(value)
        case .bool(let value): .integer(value ? 1 : 0)
        case .bytes(let value): .blob(ByteBuffer(bytes: value))
        case .date(let value): .text(Self.dateFormat.format(value))
        case .uuid(let value): .text(value.uuidString.lowercased())
        }
    }

    private static let dateFormat = Date.VerbatimFormatStyle(
        format:
            "\(year: .defaultDigits)-\(month: .twoDigits)-\(day: .twoDigits) \(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits):\(second: .twoDigits).\(secondFraction: .fractional(3))",
        timeZone: TimeZone(identifier: "UTC")!,
        calendar: Calendar(identifier: .gregorian)
    )

    static func value(_ data: SQLiteData) -> SQLValue {
        switch data {
        case .null: .null
        case .integer(let value): .int(Int64(value))
        case .float(let value): .double(value)
        case .text(let value): .text(value)
        case .blob(let value): .bytes(Array(value.readableBytesView))
        }
    }

    static func translate(_ error: any Error, statement: String) -> any Error {
        guard let error = error as? SQLiteError else { return error }
        let kind: DatabaseError.Kind
        switch error.reason {
        case .constraintUniqueFailed, .constraintPrimaryKeyFailed: kind = .uniqueViolation
        case .constraintForeignKeyFailed: kind = .foreignKeyViolation
        case .constraintNotNullFailed: kind = .notNullViolation
        case .constraintCheckFailed: kind = .checkViolation
        case .constraint:
            kind =
                error.message.contains("UNIQUE")
                ? .uniqueViolation
                : error.message.contains("FOREIGN KEY")
                    ? .foreignKeyViolation
                    : error.message.contains("NOT NULL")
                        ? .notNullViolation
                        : error.message.contains("CHECK") ? .checkViolation : .other
        case .busy, .busyTimeout, .locked:
            return DatabaseUnavailable("the SQLite database stayed locked by another writer")
        default: kind = .other
        }
        return DatabaseError(kind: kind, message: error.message, statement: statement)
    }
}
