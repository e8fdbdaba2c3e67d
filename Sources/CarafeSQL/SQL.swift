/// A statement with its parameters, built by string interpolation: every interpolated value
/// becomes a bound parameter (`$1` for PostgreSQL, `?` for SQLite), never text in the SQL, so
/// user input cannot change the statement.
///
///     let name = req.form["name"] ?? ""
///     try await req.db.query("SELECT id, name FROM users WHERE name = \(name) LIMIT \(10)", as: User.self)
///
/// Fragments compose: interpolating an `SQL` splices its text and parameters in.
///
///     var filter: SQL = "TRUE"
///     if let tag { filter = "tag = \(tag)" }
///     try await db.query("SELECT * FROM posts WHERE \(filter) ORDER BY id", as: Post.self)
///
/// Table and column names cannot be parameters; `\(identifier: name)` quotes one (`"name"`),
/// doubling any quote inside it. There is no way to splice raw text in by interpolation.
public struct SQL: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    enum Part: Sendable, Hashable {
        case text(String)
        case value(SQLValue)
    }

    private(set) var parts: [Part]

    /// A statement of literal text only, with no parameters. Called with a runtime string
    /// (`SQL(stringLiteral: text)`), it takes that text as SQL: never pass it user input.
    public init(stringLiteral value: String) {
        self.parts = [.text(value)]
    }

    public init(stringInterpolation: StringInterpolation) {
        self.parts = stringInterpolation.parts
    }

    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var parts: [Part] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            self.parts.reserveCapacity(interpolationCount * 2 + 1)
        }

        public mutating func appendLiteral(_ literal: String) {
            if case .text(let previous) = self.parts.last {
                self.parts[self.parts.count - 1] = .text(previous + literal)
            } else {
                self.parts.append(.text(literal))
            }
        }

        /// A bound parameter.
        public mutating func appendInterpolation(_ value: some SQLValueConvertible) {
            self.parts.append(.value(value.sqlValue))
        }

        /// A bound parameter, NULL for nil.
        public mutating func appendInterpolation<Value: SQLValueConvertible>(_ value: Value?) {
            self.parts.append(.value(value?.sqlValue ?? .null))
        }

        /// Another statement's text and parameters, spliced in.
        public mutating func appendInterpolation(_ fragment: SQL) {
            for part in fragment.parts {
                if case .text(let text) = part { self.appendLiteral(text) } else { self.parts.append(part) }
            }
        }

        /// A table or column name, double-quoted (case-sensitive in PostgreSQL).
        public mutating func appendInterpolation(identifier: String) {
            self.appendLiteral("\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\"")
        }
    }

    /// The bound values, in order.
    public var values: [SQLValue] {
        self.parts.compactMap { if case .value(let value) = $0 { value } else { nil } }
    }

    /// The statement's text for `dialect`, with its placeholders.
    public func text(for dialect: SQLDialect) -> String {
        self.text { index, _ in dialect.placeholder(index) }
    }

    /// The statement's text with each parameter's placeholder written by `placeholder`, given
    /// the parameter's 1-based index and value: for a driver that writes its own (the PostgreSQL
    /// driver types each one, `$1::int8`, so that a statement it prepares once fits every later
    /// binding of the same types).
    public func text(placeholder: (Int, SQLValue) -> String) -> String {
        var text = ""
        var index = 0
        for part in self.parts {
            switch part {
            case .text(let literal):
                text += literal
            case .value(let value):
                index += 1
                text += placeholder(index, value)
            }
        }
        return text
    }

    /// The text with `$1`-style placeholders, then the values: for logs and errors.
    public var description: String {
        let values = self.values
        return self.text(for: .postgres) + (values.isEmpty ? "" : " " + values.description)
    }
}
