/// Input that breaks rules of a `Validatable` type: every failing field with all of its
/// messages, answered as one `422 Unprocessable Entity`. The default error response of a JSON
/// client holds them by field:
///
///     {"error": "username: must have 3 to 20 characters; password: …", "status": 422,
///      "fields": {"username": ["must have 3 to 20 characters; it has 2"], "password": [...]}}
///
/// An HTML form catches it and shows the form again with `templateContext` (errors and values).
public struct ValidationFailure: Error, HTTPErrorConvertible, Sendable {
    /// A field and what is wrong with it.
    public struct Field: Sendable, Hashable, Codable {
        public let name: String
        public var messages: [String]
    }

    /// The failing fields, in the order their rules were declared.
    public let fields: [Field]

    public init(_ fields: [Field]) {
        self.fields = fields
    }

    /// One field's messages.
    public init(field: String, _ message: String) {
        self.fields = [Field(name: field, messages: [message])]
    }

    /// The messages of `field` (empty if it passed).
    public subscript(field: String) -> [String] {
        self.fields.first { $0.name == field }?.messages ?? []
    }

    /// The messages by field.
    public var messagesByField: [String: [String]] {
        Dictionary(self.fields.map { ($0.name, $0.messages) }, uniquingKeysWith: +)
    }

    /// "username: must have 3 to 20 characters; password: must have at least 8 characters".
    public var summary: String {
        self.fields.map { "\($0.name): \($0.messages.joined(separator: ", "))" }.joined(separator: "; ")
    }

    public var httpError: HTTPError {
        HTTPError(.unprocessableEntity, self.summary)
    }

    /// For a template that shows the form again: `errors` (each field's messages, for
    /// `{{#errors.username}}…{{/errors.username}}`), `error_list` (every message, with its
    /// field), and `values`, what was typed (passwords left out: never send one back).
    public func templateContext(values: [String: String] = [:]) -> [String: Any] {
        [
            "errors": self.messagesByField,
            "error_list": self.fields.flatMap { field in field.messages.map { ["field": field.name, "message": $0] } },
            "values": values.filter { !$0.key.lowercased().contains("password") },
        ]
    }
}
