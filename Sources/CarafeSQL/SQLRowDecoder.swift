import Foundation

/// Decodes a `Decodable` type from one row: each property from the column of the same name,
/// or of its snake_case spelling; a property that is itself `Decodable` but not a plain value
/// (a struct, an array) is decoded as JSON from a text column (PostgreSQL's `json`/`jsonb`).
struct SQLRowDecoder: Decoder {
    let row: SQLRow
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(RowContainer<Key>(row: self.row))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw SQLDecodingError("a row decodes into a keyed type (a struct) or a single value, not an array")
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        guard let value = self.row.values.first else { throw SQLDecodingError("the row has no columns") }
        return ValueContainer(value: value, column: self.row.columns[0])
    }
}

private func snakeCase(_ name: String) -> String {
    var result = ""
    for character in name {
        if character.isUppercase {
            result += "_" + character.lowercased()
        } else {
            result.append(character)
        }
    }
    return result
}

private func convert<T: Decodable>(_ value: SQLValue, column: String, to type: T.Type) throws -> T {
    if let convertible = T.self as? any SQLValueConvertible.Type {
        guard let converted = convertible.init(sqlValue: value) else {
            throw SQLDecodingError("column '\(column)': cannot read \(value) as \(T.self)")
        }
        return converted as! T
    }
    switch value {
    case .text(let json):
        do {
            return try JSONDecoder().decode(T.self, from: Data(json.utf8))
        } catch {
            throw SQLDecodingError("column '\(column)': cannot read its JSON as \(T.self): \(error)")
        }
    case .bytes(let json):
        do {
            return try JSONDecoder().decode(T.self, from: Data(json))
        } catch {
            throw SQLDecodingError("column '\(column)': cannot read its JSON as \(T.self): \(error)")
        }
    default:
        // A type with its own `init(from:)` over a single value (a wrapper, an enum).
        return try T(from: ValueDecoder(value: value, column: column))
    }
}

private struct RowContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let row: SQLRow
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { self.row.columns.compactMap(Key.init(stringValue:)) }

    func index(of key: Key) -> Int? {
        self.row.columns.firstIndex(of: key.stringValue) ?? self.row.columns.firstIndex(of: snakeCase(key.stringValue))
    }

    func value(_ key: Key) throws -> (SQLValue, String) {
        guard let index = self.index(of: key) else {
            throw SQLDecodingError("no column '\(key.stringValue)' in the row (columns: \(self.row.columns.joined(separator: ", ")))")
        }
        return (self.row.values[index], self.row.columns[index])
    }

    func contains(_ key: Key) -> Bool { self.index(of: key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let index = self.index(of: key) else { return true }
        return self.row.values[index] == .null
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let (value, column) = try self.value(key)
        if value == .null {
            throw SQLDecodingError("column '\(column)' is NULL; declare the property as \(T.self)? to allow it")
        }
        return try convert(value, column: column, to: T.self)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        throw SQLDecodingError("column '\(key.stringValue)': nested containers are not supported; use a JSON column")
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        throw SQLDecodingError("column '\(key.stringValue)': nested containers are not supported; use a JSON column")
    }

    func superDecoder() throws -> any Decoder { SQLRowDecoder(row: self.row) }
    func superDecoder(forKey key: Key) throws -> any Decoder { SQLRowDecoder(row: self.row) }
}

/// One column's value, for a type that decodes itself from a single value.
private struct ValueDecoder: Decoder {
    let value: SQLValue
    let column: String
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        throw SQLDecodingError("column '\(self.column)': \(self.value) is not a keyed value")
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw SQLDecodingError("column '\(self.column)': \(self.value) is not an array")
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        ValueContainer(value: self.value, column: self.column)
    }
}

private struct ValueContainer: SingleValueDecodingContainer {
    let value: SQLValue
    let column: String
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { self.value == .null }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try convert(self.value, column: self.column, to: T.self)
    }
}
