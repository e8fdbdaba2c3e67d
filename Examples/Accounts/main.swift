// Accounts: sign up, log in, log out and leave notes: the web-app building blocks a Flask app
// uses, together. Passwords are hashed with scrypt (CarafeSessions' PasswordHasher), the
// logged-in user lives in a signed session cookie, every form carries a CSRF token, and the
// pages are Mustache templates (CarafeMustache). Users and notes are kept in memory.
//
//     SECRET_KEY=$(openssl rand -hex 32) swift run accounts serve --bind 127.0.0.1:8000
import Carafe
import CarafeMustache
import CarafeSessions
import Foundation
import Synchronization

/// Users (name → password hash) and notes, in memory.
final class Store: Sendable {
    struct Note: Sendable {
        let author: String
        let text: String
    }
    private let users = Mutex<[String: String]>([:])
    private let allNotes = Mutex<[Note]>([])

    /// Adds a user; false if the name is taken.
    func add(user name: String, passwordHash: String) -> Bool {
        self.users.withLock { users in
            guard users[name] == nil else { return false }
            users[name] = passwordHash
            return true
        }
    }

    func passwordHash(of name: String) -> String? { self.users.withLock { $0[name] } }
    func add(_ note: Note) { self.allNotes.withLock { $0.insert(note, at: 0) } }
    var notes: [Note] { self.allNotes.withLock { $0 } }
}

let app = App()
let store = Store()
let passwords = PasswordHasher()
/// Checked when no user has the name, so that the answer takes as long as for a real user.
let dummyHash = try passwords.hashBlocking("no such user")

let secretKey: String
if let key = ProcessInfo.processInfo.environment["SECRET_KEY"] {
    secretKey = key
} else {
    app.logger.warning(
        "SECRET_KEY is not set: using a random key, so sessions end when the process does and are not shared between workers"
    )
    secretKey = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
}
try app.sessions(secretKey: secretKey)
app.csrfProtection()
try app.templates(directory: Bundle.module.path(forResource: "Templates", ofType: nil) ?? "Templates")

/// What every page's layout needs, plus `extra`.
func page(_ req: Request, _ extra: [String: Any] = [:]) -> [String: Any] {
    var context: [String: Any] = ["csrf_token": req.csrfToken]
    if let user = req.session["user"] { context["user"] = user }
    return context.merging(extra) { _, new in new }
}

app.get("/", name: "index") { req in
    try req.render("index", page(req, ["notes": store.notes.map { ["author": $0.author, "text": $0.text] }]))
}

app.get("/signup") { req in try req.render("account", page(req, ["signup": true])) }
app.get("/login") { req in try req.render("account", page(req)) }

app.post("/signup") { req -> Response in
    let name = req.form["name"]?.trimmingCharacters(in: .whitespaces) ?? ""
    let password = req.form["password"] ?? ""
    guard !name.isEmpty, password.count >= 8 else {
        return try req.render(
            "account",
            page(req, ["signup": true, "error": "A name and a password of at least 8 characters, please."]),
            status: .unprocessableEntity
        )
        .makeResponse(for: req)
    }
    guard store.add(user: name, passwordHash: try await passwords.hash(password)) else {
        return try req.render("account", page(req, ["signup": true, "error": "That name is taken."]), status: .conflict).makeResponse(
            for: req
        )
    }
    req.session["user"] = name
    return Response.redirect(to: "/", status: .seeOther)
}

app.post("/login") { req -> Response in
    let name = req.form["name"] ?? ""
    app.logger.info("login attempt for \(name)")
    let stored = store.passwordHash(of: name)
    let matches = try await passwords.verify(req.form["password"] ?? "", against: stored ?? dummyHash)
    guard stored != nil, matches else {
        return try req.render("account", page(req, ["error": "Wrong name or password."]), status: .unauthorized).makeResponse(for: req)
    }
    req.session["user"] = name
    return Response.redirect(to: "/", status: .seeOther)
}

app.post("/logout") { req in
    req.session.clear()
    return Response.redirect(to: "/", status: .seeOther)
}

app.post("/notes") { req in
    guard let user = req.session["user"] else { throw HTTPError(.unauthorized, "Log in to leave a note.") }
    store.add(Store.Note(author: user, text: try req.form.require("text")))
    return Response.redirect(to: "/", status: .seeOther)
}

app.get("/ping") { _ in "pong" }

try await app.run()
