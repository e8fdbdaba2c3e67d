// `SQLRow.decode(as:)`, the decoder of database rows into `Decodable` types (CarafeSQL's
// `SQLRowDecoder` and the `SQLValueConvertible` conversions), driven with rows of fuzzed column
// names, types and values: every `SQLValue` case PostgreSQL's and SQLite's drivers produce,
// NULLs, text where numbers or dates are expected, JSON columns, duplicate and missing columns.
// A decode may fail, with `SQLDecodingError` or the JSON decoder's error only; one that succeeds
// must hold what the column converts to.
@testable import CarafeSQL
import Foundation
import FuzzSupport

enum Kind: String, Decodable, SQLValueConvertible {
    case admin, user
}

struct Meta: Decodable, Equatable {
    var level: Int?
    var tags: [String]?
}

struct Record: Decodable {
    var id: Int64
    var name: String?
    var score: Double?
    var ratio: Float?
    var active: Bool?
    var createdAt: Date?
    var token: UUID?
    var blob: Data?
    var small: Int16?
    var count: Int?
    var kind: Kind?
    var meta: Meta?
    var tags: [String]?
}

/// A property that decodes itself from a single value.
struct Wrapped: Decodable {
    var value: Int32
    init(from decoder: any Decoder) throws {
        self.value = try decoder.singleValueContainer().decode(Int32.self)
    }
}

struct Wrapper: Decodable {
    var id: Wrapped
}

let names = ["id", "name", "score", "ratio", "active", "created_at", "createdAt", "token", "blob", "small", "count", "kind", "meta", "tags", ""]
let texts = ["", "1", "-1", "9223372036854775808", "1e308", "nan", "true", "admin", "2026-11-23 12:00:00", "2026-11-23T12:00:00.123+02:00",
             "{\"level\": 3, \"tags\": [\"a\"]}", "[\"a\", \"b\"]", "{", "null", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"]

func value(_ input: inout FuzzInput) -> SQLValue {
    func int64() -> Int64 { (0..<8).reduce(Int64(0)) { value, _ in value << 8 | Int64(input.byte()) } }
    switch input.byte() % 10 {
    case 0: return .null
    case 1: return .int(int64())
    case 2: return .int(Int64(Int8(bitPattern: input.byte())))
    case 3: return .double(Double(bitPattern: UInt64(bitPattern: int64())))
    case 4: return .bool(input.byte() & 1 == 1)
    case 5: return .text(texts[Int(input.byte()) % texts.count])
    case 6:
        let length = Int(input.byte() % 48)
        return .text(String(decoding: (0..<length).map { _ in input.byte() }, as: UTF8.self))
    case 7: return .bytes((0..<Int(input.byte() % 16)).map { _ in input.byte() })
    case 8: return .date(Date(timeIntervalSince1970: Double(bitPattern: UInt64(bitPattern: int64()))))
    default: return .uuid(UUID(uuid: (input.byte(), input.byte(), input.byte(), input.byte(), input.byte(), input.byte(), input.byte(), input.byte(),
                                      input.byte(), input.byte(), input.byte(), input.byte(), input.byte(), input.byte(), input.byte(), input.byte())))
    }
}

/// The same value, NaN equal to NaN.
func same(_ a: Double?, _ b: Double?) -> Bool { a == b || (a?.isNaN == true && b?.isNaN == true) }

/// The first column named `name` or, else, its snake_case spelling: where the decoder reads a property.
func column(_ row: SQLRow, _ name: String, _ snake: String? = nil) -> SQLValue? {
    row[name] ?? snake.flatMap { row[$0] }
}

/// The one failure a decode may end in, naming the column (the JSON decoder's are wrapped).
func expected(_ error: any Error) -> Bool { error is SQLDecodingError }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let columns = Int(input.byte() % 16)
    var row = SQLRow(columns: [], values: [])
    var columnNames: [String] = []
    var values: [SQLValue] = []
    for _ in 0..<columns {
        let pick = Int(input.byte())
        columnNames.append(pick < 240 ? names[pick % names.count] : "c\(pick)")
        values.append(value(&input))
    }
    row = SQLRow(columns: columnNames, values: values)

    do {
        let record = try row.decode(as: Record.self)
        check(column(row, "id").flatMap(Int64.init(sqlValue:)) == record.id, "\(row): id decoded as \(record.id)")
        check(column(row, "name").flatMap(String?.init(sqlValue:)) == .some(record.name) || (column(row, "name") == nil && record.name == nil), "\(row): name decoded as \(String(describing: record.name))")
        check(same(column(row, "score").flatMap(Double?.init(sqlValue:)) ?? nil, record.score), "\(row): score decoded as \(String(describing: record.score))")
        check(same((column(row, "createdAt", "created_at").flatMap(Date?.init(sqlValue:)) ?? nil)?.timeIntervalSince1970, record.createdAt?.timeIntervalSince1970),
              "\(row): createdAt decoded as \(record.createdAt.map { SQLValue.date($0).description } ?? "nil")")
        check(column(row, "kind").flatMap(Kind?.init(sqlValue:)) ?? nil == record.kind, "\(row): kind decoded as \(String(describing: record.kind))")
        check(column(row, "small").flatMap(Int16?.init(sqlValue:)) ?? nil == record.small, "\(row): small decoded as \(String(describing: record.small))")
    } catch {
        check(expected(error), "\(row): decoding a Record threw \(String(reflecting: error))")
    }
    do {
        let wrapper = try row.decode(as: Wrapper.self)
        // A text or bytes column is JSON to a type that is not a plain value.
        switch column(row, "id") {
        case .text, .bytes: break
        case let value: check(value.flatMap(Int32.init(sqlValue:)) == wrapper.id.value, "\(row): id decoded as \(wrapper.id.value)")
        }
    } catch {
        check(expected(error), "\(row): decoding a Wrapper threw \(String(reflecting: error))")
    }
    // A single value, from the first column.
    do {
        let first = try row.decode(as: Int.self)
        check(values.first.flatMap(Int.init(sqlValue:)) == first, "\(row): first column decoded as \(first)")
    } catch {
        check(expected(error), "\(row): decoding an Int threw \(String(reflecting: error))")
    }
    _ = try? row.decode(as: String?.self)
    _ = try? row.decode(as: [String].self)
    _ = try? row.decode(as: [String: String].self)
    for name in Set(columnNames) {
        _ = try? row.decode(name, as: Date.self)
        _ = try? row.decode(name, as: Float.self)
        _ = try? row.decode(name, as: UUID?.self)
    }
    // What a value binds as converts back to itself.
    for value in values {
        switch value {
        case .int(let v): check(Int64(sqlValue: v.sqlValue) == v, "\(v) does not round-trip")
        case .double(let v): check(same(Double(sqlValue: v.sqlValue), v), "\(v) does not round-trip")
        case .text(let v): check(String(sqlValue: v.sqlValue) == v, "\(v.debugDescription) does not round-trip")
        case .date(let v): check(same(Date(sqlValue: v.sqlValue)?.timeIntervalSince1970, v.timeIntervalSince1970), "\(value) does not round-trip")
        case .uuid(let v): check(UUID(sqlValue: v.sqlValue) == v, "\(v) does not round-trip")
        case .bytes(let v): check(Data(sqlValue: Data(v).sqlValue) == Data(v), "\(v) does not round-trip")
        case .bool(let v): check(Bool(sqlValue: v.sqlValue) == v, "\(v) does not round-trip")
        case .null: check(Int?(sqlValue: .null) == .some(nil), "NULL is not nil")
        }
    }
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
