import Carafe

/// What the forms and the API accept, with messages that say what was wrong. Every check runs
/// before anything is written.
enum Validation {
    static let maxPostLength = 280
    static let minPasswordLength = 8
    static let maxPasswordLength = 200

    /// A post's text, trimmed: 1 to 280 characters.
    static func postBody(_ raw: String?) throws -> String {
        let body = (raw ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !body.isEmpty else { throw HTTPError(.badRequest, "A post cannot be empty.") }
        guard body.count <= maxPostLength else {
            throw HTTPError(.badRequest, "A post can have at most \(maxPostLength) characters; this one has \(body.count).")
        }
        return body
    }

    /// A username: 3 to 20 letters, digits or underscores.
    static func username(_ raw: String?) throws -> String {
        let name = raw ?? ""
        guard (3...20).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw HTTPError(.badRequest, "A username has 3 to 20 characters, each a letter (a-z, A-Z), a digit or '_'.")
        }
        return name
    }

    /// A new password: 8 to 200 characters.
    static func password(_ raw: String?) throws -> String {
        let password = raw ?? ""
        guard password.count >= minPasswordLength else {
            throw HTTPError(.badRequest, "A password needs at least \(minPasswordLength) characters.")
        }
        guard password.count <= maxPasswordLength else {
            throw HTTPError(.badRequest, "A password can have at most \(maxPasswordLength) characters.")
        }
        return password
    }

    /// `?page=N`: 1 if absent; a 400 unless a whole number from 1 to 10000.
    static func page(_ req: Request) throws -> Int {
        guard let text = req.query["page"] else { return 1 }
        guard let page = Int(text), (1...10_000).contains(page) else {
            throw HTTPError(.badRequest, "page must be a whole number from 1 to 10000, not '\(text)'.")
        }
        return page
    }
}
