// An app whose requests are traced and exported to an OpenTelemetry collector over OTLP/HTTP:
//
//     traced serve --otlp-endpoint http://127.0.0.1:4318
//
// Each request is a server span named by its route (`GET /users/:id`), joined to the caller's
// trace when a trusted peer sent `traceparent`; each SQL statement is a child span. Users live
// in SQLite (DATABASE_URL, default sqlite::memory:), made at start.
import Carafe
import CarafeDatabase
import CarafeOTel
import Foundation

struct User: Content {
    let id: Int
    let name: String
}

let environment = ProcessInfo.processInfo.environment
let db: Database
do {
    db = try Database.open(url: environment["DATABASE_URL"] ?? "sqlite::memory:")
} catch {
    FileHandle.standardError.write(Data("Error: DATABASE_URL: \(error)\n".utf8))
    exit(2)
}

let app = App()
app.telemetryExporter = OTLPExporter()
app.useDatabase(db)
app.onStart { _ in
    try await db.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    try await db.execute("INSERT OR IGNORE INTO users (id, name) VALUES (1, 'ada'), (2, 'grace')")
}

app.get("/") { _ in "traced: GET /users/:id, GET /trace-headers\n" }

// One span for the request, one child span for its SELECT.
app.get("/users/:id") { req in
    let id = try req.parameters.require("id", as: Int.self)
    guard let user = try await req.db.first("SELECT id, name FROM users WHERE id = \(id)", as: User.self) else {
        throw HTTPError(.notFound, "No user \(id).")
    }
    return user
}

// What this request would pass on to a service it calls (`traceparent`, `tracestate`).
app.get("/trace-headers") { req in
    req.traceHeaders.map { "\($0.name): \($0.value)\n" }.joined()
}

try await app.run()
