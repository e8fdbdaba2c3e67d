import Foundation

extension Request {
    /// Decodes the body as `T` (see `decode`), then checks every rule of `T`: a
    /// `ValidationFailure` (422) with all the failing fields at once. A field missing from
    /// the body or of the wrong type is a `ValidationFailure` for that field too (decoding stops
    /// there, so give fields defaults, or make them optional, to have every rule checked).
    public func decodeValid<T: Decodable & Validatable>(_ type: T.Type = T.self) throws -> T {
        let value = try self.decode(T.self, reportingFields: true)
        try value.validate()
        return value
    }

    /// `decode`, with a decoding error as a `ValidationFailure` of the field it names.
    func decode<T: Decodable>(_ type: T.Type, reportingFields: Bool) throws -> T {
        do {
            return try self.decodeBody(T.self)
        } catch let error as DecodingError {
            func name(_ path: [any CodingKey]) -> String {
                path.enumerated().map { index, key in
                    key.intValue.map { "[\($0)]" } ?? (index == 0 ? key.stringValue : "." + key.stringValue)
                }.joined()
            }
            switch error {
            case .keyNotFound(let key, let context):
                throw ValidationFailure(field: name(context.codingPath + [key]), "is required")
            case .valueNotFound(_, let context):
                throw ValidationFailure(field: name(context.codingPath), "is required")
            case .typeMismatch(let type, let context) where !context.codingPath.isEmpty:
                throw ValidationFailure(field: name(context.codingPath), "must be \(Self.kind(of: type))")
            case .dataCorrupted(let context) where !context.codingPath.isEmpty:
                throw ValidationFailure(field: name(context.codingPath), "is not valid: \(context.debugDescription)")
            default:
                throw HTTPError(.badRequest, "Invalid request body: \(Self.explain(error))")
            }
        }
    }

    private static func kind(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "text"
        case is Bool.Type: "true or false"
        case is any BinaryInteger.Type: "a whole number"
        case is any BinaryFloatingPoint.Type: "a number"
        case is [Any].Type: "a list"
        default: "a \(type)"
        }
    }
}
