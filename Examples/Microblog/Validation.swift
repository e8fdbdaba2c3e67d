import Carafe
import Foundation

/// What the forms and the API accept, declared on the decoded types (`Validatable`): every
/// rule is checked before anything is written, and every failure is answered at once (422),
/// each under its field.
enum Validation {
    static let maxPostLength = 280
    static let usernameLengths = 3...20
    static let passwordLengths = 8...200
    static let usernameCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

    /// The rules as the sign-up form shows them, before anyone breaks them.
    static let usernameRule =
        "\(usernameLengths.lowerBound) to \(usernameLengths.upperBound) letters (a-z), digits or _; not case-sensitive"
    static let passwordRule = "at least \(passwordLengths.lowerBound) characters"

    /// `?page=N`: 1 if absent; a 400 unless a whole number from 1 to 10000.
    static func page(_ req: Request) throws -> Int {
        guard let text = req.query["page"] else { return 1 }
        guard let page = Int(text), (1...10_000).contains(page) else {
            throw HTTPError(.badRequest, "page must be a whole number from 1 to 10000, not '\(text)'.")
        }
        return page
    }
}

/// The sign-up form (and its JSON): a missing field is an empty one, so that every rule is checked.
struct SignUpForm: Decodable, Validatable {
    var username: String
    var password: String

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        self.username = try fields.decodeIfPresent(String.self, forKey: .username) ?? ""
        self.password = try fields.decodeIfPresent(String.self, forKey: .password) ?? ""
    }

    enum CodingKeys: String, CodingKey { case username, password }

    static func validations(_ v: inout Validations<Self>) {
        v.add(
            "username",
            \.username,
            .count(Validation.usernameLengths),
            .characters(Validation.usernameCharacters, "letters (a-z), digits and _")
        )
        v.add("password", \.password, .count(Validation.passwordLengths))
    }
}

/// A new post, from the home page's form or the API: its text, trimmed, 1 to 280 characters.
struct NewPost: Decodable, Validatable {
    /// As typed (shown again in the form when it is refused).
    var typed: String
    /// As stored.
    var body: String { self.typed.trimmingCharacters(in: .whitespacesAndNewlines) }

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        self.typed = try fields.decodeIfPresent(String.self, forKey: .body) ?? ""
    }

    enum CodingKeys: String, CodingKey { case body }

    static func validations(_ v: inout Validations<Self>) {
        v.add(
            "body",
            \.body,
            Validator { $0.isEmpty ? "A post cannot be empty." : nil },
            Validator { body in
                body.count > Validation.maxPostLength
                    ? "A post can have at most \(Validation.maxPostLength) characters; this one has \(body.count)." : nil
            }
        )
    }
}
