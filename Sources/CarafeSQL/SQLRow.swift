/// One row of a result: its columns by name, in order.
///
///     let row = try await db.first("SELECT count(*) AS n, max(id) AS last FROM users")
///     let n = try row?.decode("n", as: Int.self)
public struct SQLRow: Sendable, Hashable, CustomStringConvertible {
    /// The column names, in order.
    public let columns: [String]
    /// The values, in column order.
    public let values: [SQLValue]

    public init(columns: [String], values: [SQLValue]) {
        precondition(columns.count == values.count, "a row needs one value per column")
        self.columns = columns
        self.values = values
    }

    /// The value of the column named `column` (the first, if several have that name).
    public subscript(column: String) -> SQLValue? {
        self.columns.firstIndex(of: column).map { self.values[$0] }
    }

    /// The column named `column` as `T`; throws `SQLDecodingError` if it is missing or does not convert.
    public func decode<T: SQLValueConvertible>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let value = self[column] else {
            throw SQLDecodingError("no column '\(column)' in the row (columns: \(self.columns.joined(separator: ", ")))")
        }
        guard let converted = T(sqlValue: value) else { throw SQLDecodingError("column '\(column)': cannot read \(value) as \(T.self)") }
        return converted
    }

    /// The whole row as `T`: a `Decodable` type's properties are read from the columns of the
    /// same name (`createdAt` also from `created_at`); a single value (`Int`, `String`, …) is read
    /// from the first column.
    public func decode<T: Decodable>(as type: T.Type = T.self) throws -> T {
        if let convertible = T.self as? any SQLValueConvertible.Type {
            guard let value = self.values.first else { throw SQLDecodingError("the row has no columns") }
            guard let converted = convertible.init(sqlValue: value) else {
                throw SQLDecodingError("column '\(self.columns[0])': cannot read \(value) as \(T.self)")
            }
            return converted as! T
        }
        return try T(from: SQLRowDecoder(row: self))
    }

    public var description: String {
        "[" + zip(self.columns, self.values).map { "\($0): \($1)" }.joined(separator: ", ") + "]"
    }
}

/// A row that does not decode into the type asked for: which column, and why.
public struct SQLDecodingError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
