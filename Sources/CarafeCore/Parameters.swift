/// Named string values with typed access: a route's path parameters, a query string, or a
/// submitted form.
///
///     let id = try req.parameters.require("id", as: Int.self)      // 400 if missing or not an Int
///     let page = try req.query.get("page", as: Int.self) ?? 1        // 400 if present but not an Int
///     let tags = req.query.all("tag")
///
/// A name may appear several times; `subscript` and `get` return the last value.
public struct Parameters: Sendable, Sequence {
    /// What the values are, for error messages: "path parameter", "query parameter", "form field".
    public let kind: String
    private var pairs: [(name: String, value: String)]

    public init(kind: String, _ pairs: [(name: String, value: String)] = []) {
        self.kind = kind
        self.pairs = pairs
    }

    /// The last value named `name`, if any.
    public subscript(name: String) -> String? {
        self.pairs.last { $0.name == name }?.value
    }

    /// Every value named `name`, in order.
    public func all(_ name: String) -> [String] {
        self.pairs.filter { $0.name == name }.map(\.value)
    }

    /// The value named `name` converted to `T`; nil when absent; a 400 when it does not convert.
    public func get<T: LosslessStringConvertible>(_ name: String, as type: T.Type = T.self) throws -> T? {
        guard let text = self[name] else { return nil }
        guard let value = T(text) else {
            throw HTTPError(.badRequest, "\(self.kind) '\(name)' must be \(Self.describe(T.self)), got '\(text)'.")
        }
        return value
    }

    /// The value named `name` converted to `T`; a 400 when absent or when it does not convert.
    public func require<T: LosslessStringConvertible>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let value = try self.get(name, as: type) else {
            throw HTTPError(.badRequest, "\(self.kind) '\(name)' is required.")
        }
        return value
    }

    /// All names and values, in order.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        self.pairs.makeIterator()
    }

    public var isEmpty: Bool { self.pairs.isEmpty }

    mutating func append(_ name: String, _ value: String) {
        self.pairs.append((name, value))
    }

    private static func describe(_ type: Any.Type) -> String { typeNameWithArticle(type) }
}

/// A type's name with its article, for error messages: "an Int", "a UInt8", "a Double" (the
/// article by the name's sound: `U` as in "you").
func typeNameWithArticle(_ type: Any.Type) -> String {
    let name = String(describing: type)
    return (name.first.map { "AEIO".contains($0) } ?? false ? "an " : "a ") + name
}
