import Foundation

/// One value sent to or read from a database, in the types both PostgreSQL and SQLite know.
public enum SQLValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case bool(Bool)
    case bytes([UInt8])
    case date(Date)
    case uuid(UUID)

    /// Whether Foundation can describe `date`: a number (not NaN, which `Date`'s own comparisons
    /// let through) between `distantPast` and `distantFuture`.
    private static func describable(_ date: Date) -> Bool {
        let seconds = date.timeIntervalSinceReferenceDate
        return seconds >= Date.distantPast.timeIntervalSinceReferenceDate && seconds <= Date.distantFuture.timeIntervalSinceReferenceDate
    }

    public var description: String {
        switch self {
        case .null: "NULL"
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .text(let value): "'\(value)'"
        case .bool(let value): "\(value)"
        case .bytes(let value): "<\(value.count) bytes>"
        // Foundation's own description traps for a NaN date (found by the SQLRow fuzz target,
        // through a decoding error's message); outside years 1 to 4000 it is not shown either.
        case .date(let value) where Self.describable(value): "\(value)"
        case .date(let value): "Date(timeIntervalSince1970: \(value.timeIntervalSince1970))"
        case .uuid(let value): "\(value)"
        }
    }
}

/// A Swift type that converts to and from an `SQLValue`: what `SQL` interpolation binds as a
/// parameter, and what a row's column decodes into.
///
/// Int, Int64, Int32, Int16, Double, Float, String, Bool, Date, UUID, Data, [UInt8] and Optionals
/// of them conform. Conform a type of your own (a `RawRepresentable` enum, say) to bind it.
public protocol SQLValueConvertible: Sendable {
    var sqlValue: SQLValue { get }
    /// The value from a column; nil if it cannot be read as this type.
    init?(sqlValue: SQLValue)
}

extension Int: SQLValueConvertible {
    public var sqlValue: SQLValue { .int(Int64(self)) }
    public init?(sqlValue: SQLValue) {
        guard let value = Int64(sqlValue: sqlValue) else { return nil }
        self.init(exactly: value)
    }
}

extension Int64: SQLValueConvertible {
    public var sqlValue: SQLValue { .int(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .int(let value): self = value
        case .bool(let value): self = value ? 1 : 0
        case .double(let value): self.init(exactly: value)
        case .text(let value): self.init(value)
        default: return nil
        }
    }
}

extension Int32: SQLValueConvertible {
    public var sqlValue: SQLValue { .int(Int64(self)) }
    public init?(sqlValue: SQLValue) {
        guard let value = Int64(sqlValue: sqlValue) else { return nil }
        self.init(exactly: value)
    }
}

extension Int16: SQLValueConvertible {
    public var sqlValue: SQLValue { .int(Int64(self)) }
    public init?(sqlValue: SQLValue) {
        guard let value = Int64(sqlValue: sqlValue) else { return nil }
        self.init(exactly: value)
    }
}

extension Double: SQLValueConvertible {
    public var sqlValue: SQLValue { .double(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .double(let value): self = value
        case .int(let value): self = Double(value)
        case .text(let value): self.init(value)  // PostgreSQL's numeric arrives as text
        default: return nil
        }
    }
}

extension Float: SQLValueConvertible {
    public var sqlValue: SQLValue { .double(Double(self)) }
    public init?(sqlValue: SQLValue) {
        guard let value = Double(sqlValue: sqlValue) else { return nil }
        self.init(value)
    }
}

extension String: SQLValueConvertible {
    public var sqlValue: SQLValue { .text(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .text(let value): self = value
        case .int(let value): self = String(value)
        case .double(let value): self = String(value)
        case .uuid(let value): self = value.uuidString
        default: return nil
        }
    }
}

extension Bool: SQLValueConvertible {
    public var sqlValue: SQLValue { .bool(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .bool(let value): self = value
        case .int(let value) where value == 0 || value == 1: self = value == 1  // SQLite's booleans
        default: return nil
        }
    }
}

extension Date: SQLValueConvertible {
    public var sqlValue: SQLValue { .date(self) }
    /// From a timestamp; from SQLite, also from seconds since 1970 or text such as
    /// `CURRENT_TIMESTAMP`'s `2026-11-23 12:00:00` (UTC) or ISO 8601.
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .date(let value): self = value
        case .int(let value): self = Date(timeIntervalSince1970: TimeInterval(value))
        case .double(let value): self = Date(timeIntervalSince1970: value)
        case .text(let value):
            guard let date = Self.parse(value) else { return nil }
            self = date
        default: return nil
        }
    }

    private static func parse(_ text: String) -> Date? {
        let iso = text.contains("T") ? text : text.replacingOccurrences(of: " ", with: "T")
        let zoned = iso.hasSuffix("Z") || iso.range(of: #"[+-]\d\d:?\d\d$"#, options: .regularExpression) != nil ? iso : iso + "Z"
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = zoned.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        return formatter.date(from: zoned)
    }
}

extension UUID: SQLValueConvertible {
    public var sqlValue: SQLValue { .uuid(self) }
    public init?(sqlValue: SQLValue) {
        switch sqlValue {
        case .uuid(let value): self = value
        case .text(let value): self.init(uuidString: value)
        default: return nil
        }
    }
}

extension Data: SQLValueConvertible {
    public var sqlValue: SQLValue { .bytes(Array(self)) }
    public init?(sqlValue: SQLValue) {
        guard case .bytes(let value) = sqlValue else { return nil }
        self.init(value)
    }
}

extension Array: SQLValueConvertible where Element == UInt8 {
    public var sqlValue: SQLValue { .bytes(self) }
    public init?(sqlValue: SQLValue) {
        guard case .bytes(let value) = sqlValue else { return nil }
        self = value
    }
}

extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
    public init?(sqlValue: SQLValue) {
        if case .null = sqlValue {
            self = .none
        } else {
            guard let value = Wrapped(sqlValue: sqlValue) else { return nil }
            self = .some(value)
        }
    }
}

extension SQLValueConvertible where Self: RawRepresentable, RawValue: SQLValueConvertible {
    public var sqlValue: SQLValue { self.rawValue.sqlValue }
    public init?(sqlValue: SQLValue) {
        guard let raw = RawValue(sqlValue: sqlValue) else { return nil }
        self.init(rawValue: raw)
    }
}
