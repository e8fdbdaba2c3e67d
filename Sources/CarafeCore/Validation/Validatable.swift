/// A decoded type that says what makes it valid (Vapor's `Validatable`), so that `req.decodeValid`
/// can check every field and answer every failure at once, in one 422.
///
///     struct SignUp: Decodable, Validatable {
///         var username = ""
///         var password = ""
///         static func validations(_ v: inout Validations<Self>) {
///             v.add("username", \.username, .count(3...20), .characters(.alphanumerics, "letters, digits"))
///             v.add("password", \.password, .count(8...200))
///         }
///     }
///     app.post("/signup") { req in
///         let form = try req.decodeValid(SignUp.self)   // ValidationFailure (422) unless every rule holds
///         ...
///     }
public protocol Validatable {
    static func validations(_ validations: inout Validations<Self>)
}

/// The rules of a `Validatable` type, field by field, in the order they were added.
public struct Validations<Value> {
    struct Rule {
        let field: String
        let check: (Value) -> [String]
    }

    private(set) var rules: [Rule] = []

    public init() {}

    /// Checks `field` (`keyPath` of the value) with `validators`: every one that fails adds its message.
    public mutating func add<T>(_ field: String, _ keyPath: KeyPath<Value, T>, _ validators: Validator<T>...) {
        self.rules.append(Rule(field: field) { value in validators.compactMap { $0.check(value[keyPath: keyPath]) } })
    }

    /// Checks `field` when it is present: a nil passes (declare it required with `.required`
    /// on the optional, or give it a default).
    public mutating func add<T>(_ field: String, _ keyPath: KeyPath<Value, T?>, ifPresent validators: Validator<T>...) {
        self.rules.append(
            Rule(field: field) { value in
                guard let present = value[keyPath: keyPath] else { return [] }
                return validators.compactMap { $0.check(present) }
            }
        )
    }

    /// A check of the whole value reported under `field`: return a message when it fails,
    /// nil when it holds (a password and its confirmation, say).
    public mutating func add(_ field: String, message check: @escaping (Value) -> String?) {
        self.rules.append(Rule(field: field) { value in check(value).map { [$0] } ?? [] })
    }

    /// Every failure of `value`, by field, the fields in the order their rules were added.
    public func failures(of value: Value) -> [ValidationFailure.Field] {
        var fields: [ValidationFailure.Field] = []
        for rule in self.rules {
            let messages = rule.check(value)
            guard !messages.isEmpty else { continue }
            if let index = fields.firstIndex(where: { $0.name == rule.field }) {
                fields[index].messages += messages
            } else {
                fields.append(ValidationFailure.Field(name: rule.field, messages: messages))
            }
        }
        return fields
    }
}

extension Validatable {
    /// Throws `ValidationFailure` with every rule that fails; returns if all hold.
    public func validate() throws {
        var validations = Validations<Self>()
        Self.validations(&validations)
        let failures = validations.failures(of: self)
        if !failures.isEmpty { throw ValidationFailure(failures) }
    }
}
