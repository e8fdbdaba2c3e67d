import Foundation

/// One rule for a value of type `T`: a message saying what is wrong, or nil when it holds.
/// Messages are written to be shown beside the field: "must have 3 to 20 characters".
public struct Validator<T> {
    public let check: (T) -> String?

    public init(_ check: @escaping (T) -> String?) {
        self.check = check
    }

    /// `rule` holds, else `message`.
    public static func that(_ message: String, _ rule: @escaping (T) -> Bool) -> Validator {
        Validator { rule($0) ? nil : message }
    }
}

extension Validator where T: StringProtocol {
    /// At least one character other than white space.
    public static var notBlank: Validator {
        .that("must not be empty") { !$0.allSatisfy(\.isWhitespace) }
    }

    /// `range.lowerBound` to `range.upperBound` characters (as a reader counts them).
    public static func count(_ range: ClosedRange<Int>) -> Validator {
        Validator { text in
            if range.contains(text.count) { return nil }
            if text.count < range.lowerBound, range.lowerBound == 1 { return "must not be empty" }
            if range.upperBound == Int.max { return "must have at least \(range.lowerBound) characters" }
            return "must have \(range.lowerBound) to \(range.upperBound) characters; it has \(text.count)"
        }
    }

    /// At least `minimum` characters.
    public static func count(_ range: PartialRangeFrom<Int>) -> Validator {
        .count(range.lowerBound...Int.max)
    }

    /// Only characters of `allowed`; `description` names them for the message ("letters, digits and _").
    public static func characters(_ allowed: CharacterSet, _ description: String) -> Validator {
        Validator { text in
            let bad = text.unicodeScalars.filter { !allowed.contains($0) }
            guard let first = bad.first else { return nil }
            return "may contain only \(description), not '\(Character(first))'"
        }
    }

    /// The whole text matches `pattern` (a regular expression); else `message`.
    public static func matches(_ pattern: String, _ message: String) -> Validator {
        Validator { text in
            String(text).range(of: "^(?:\(pattern))$", options: .regularExpression) == nil ? message : nil
        }
    }

    /// Something `@` something `.` something: a plausible e-mail address.
    public static var email: Validator {
        .matches(#"[^@\s]+@[^@\s]+\.[^@\s]+"#, "must be an e-mail address")
    }
}

extension Validator where T: Comparable {
    /// Within `range`.
    public static func range(_ range: ClosedRange<T>) -> Validator {
        .that("must be from \(range.lowerBound) to \(range.upperBound)") { range.contains($0) }
    }
}

extension Validator where T: Equatable {
    /// One of `values`.
    public static func oneOf(_ values: [T]) -> Validator {
        .that("must be one of \(values.map { "\($0)" }.joined(separator: ", "))") { values.contains($0) }
    }
}

extension Validator {
    /// A value is present (for an optional field).
    public static func required<W>() -> Validator where T == W? {
        .that("is required") { $0 != nil }
    }
}
