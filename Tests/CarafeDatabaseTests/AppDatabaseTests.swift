import Carafe
import CarafeDatabase
import CarafeTesting
import Testing

/// `req.db` and the database's errors through the app's routing, with the test client.
@Suite struct AppDatabaseTests {
    struct Note: Content, Equatable {
        let id: Int
        let text: String
    }

    static func app() async throws -> (App, Database) {
        let db = try Database.open(url: "sqlite::memory:")
        try await db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)")
        let app = App()
        app.useDatabase(db)
        app.get("/notes/:id") { req in
            try await req.db.first("SELECT id, text FROM notes WHERE id = \(req.parameters.require("id", as: Int.self))", as: Note.self)
        }
        app.post("/notes") { req in
            let text = try req.decode([String: String].self)["text"] ?? ""
            return try await req.db.transaction { tx in
                try await tx.first("INSERT INTO notes (text) VALUES (\(text)) RETURNING id, text", as: Note.self)
            }
        }
        app.get("/down") { _ -> String in throw DatabaseUnavailable("it is restarting") }
        return (app, db)
    }

    @Test func handlersReadAndWriteThroughReqDB() async throws {
        let (app, db) = try await Self.app()
        defer { Task { await db.shutdown() } }
        let created = try await app.test.post("/notes", json: ["text": "hello"])
        #expect(created.status == .ok)
        #expect(try created.json(Note.self) == Note(id: 1, text: "hello"))
        #expect(try await app.test.get("/notes/1").json(Note.self) == Note(id: 1, text: "hello"))
        #expect(await app.test.get("/notes/2").status == .notFound)
        #expect(await app.test.get("/notes/x").status == .badRequest)
    }

    @Test func anUnhandledConstraintViolationIsA500WithoutDetails() async throws {
        let (app, db) = try await Self.app()
        defer { Task { await db.shutdown() } }
        _ = try await app.test.post("/notes", json: ["text": "same"])
        let again = try await app.test.post("/notes", json: ["text": "same"])
        #expect(again.status == .internalServerError)
        #expect(!again.text.contains("UNIQUE"))
    }

    @Test func databaseUnavailableIsA503WithRetryAfter() async throws {
        let (app, db) = try await Self.app()
        defer { Task { await db.shutdown() } }
        let response = await app.test.get("/down")
        #expect(response.status == .serviceUnavailable)
        #expect(response.headers.first(name: "retry-after") == "1")
        #expect(response.text.contains("The database is unavailable: it is restarting."))
    }

    @Test func anAppWithoutADatabaseSaysSoInsteadOfCrashing() async throws {
        let app = App()
        app.get("/") { req in try await req.db.first("SELECT 1", as: Int.self).map(String.init) }
        app.debug = true
        let response = await app.test.get("/")
        #expect(response.status == .internalServerError)
        #expect(response.text.contains("call app.useDatabase"))
    }
}
