// A small app on the database layer, for its process-level tests: users in PostgreSQL or
// SQLite (DATABASE_URL, default sqlite:probe.sqlite), migrations, the pool's 503s, and
// Server-Sent Events fed across processes by LISTEN/NOTIFY.
import Carafe
import CarafeDatabase
import CarafeStreaming
import Foundation
import NIOPosix

struct User: Content {
    let id: Int
    let name: String
}

let environment = ProcessInfo.processInfo.environment
let db: Database
do {
    db = try Database.open(
        url: environment["DATABASE_URL"] ?? "sqlite:probe.sqlite",
        pool: ConnectionPoolConfiguration(maxConnections: 2, connectTimeout: .seconds(2), waitTimeout: .seconds(2))
    )
} catch {
    FileHandle.standardError.write(Data("Error: DATABASE_URL: \(error)\n".utf8))
    exit(2)
}
let migrations = environment["MIGRATIONS"] ?? "migrations"

let app = App()
app.useDatabase(db, migrations: migrations)
if environment["MIGRATE_ON_START"] != nil {
    // Every worker migrates as it starts: they take turns (advisory lock), each file once.
    app.onStart { _ in try await db.migrate(directory: migrations, logger: app.logger) }
}

app.get("/pid") { _ in "\(getpid())" }

app.get("/users") { req in
    try await req.db.query("SELECT id, name FROM users ORDER BY id", as: User.self)
}

app.get("/users/:id") { req in
    try await req.db.first("SELECT id, name FROM users WHERE id = \(req.parameters.require("id", as: Int.self))", as: User.self)
}

// Form field `name`; 409 if taken.
app.post("/users") { req in
    guard let name = req.form["name"], !name.isEmpty else { try abort(.badRequest, "Form field 'name' is required.") }
    do {
        let user = try await req.db.first("INSERT INTO users (name) VALUES (\(name)) RETURNING id, name", as: User.self)
        return JSON(user, status: .created)
    } catch let error as DatabaseError where error.kind == .uniqueViolation {
        throw HTTPError(.conflict, "The name '\(name)' is taken.")
    }
}

// Whether the pooled PostgreSQL connection lives on the event loop serving this request.
app.get("/same-loop") { req in
    guard let driver = req.db.driver as? PostgresDriver else { try abort(.notImplemented, "PostgreSQL only.") }
    let loop = MultiThreadedEventLoopGroup.currentEventLoop
    return try await driver.pool.withConnection { connection in
        let same = loop != nil && connection.connection.eventLoop === loop!
        return same && MultiThreadedEventLoopGroup.currentEventLoop === loop! ? "same" : "different"
    }
}

// Server-Sent Events: ": hello", then every message broadcast on "chat" by any process.
let hub = BroadcastHub(backplane: db.dialect == .postgres ? try PostgresBackplane(database: db, logger: app.logger) : nil)
app.addService(hub)
app.sse("/events") { _, events in
    try await events.comment("hello")
    for await message in hub.subscribe("chat") {
        try await events.send(data: message)
    }
}

app.post("/broadcast") { req in
    try await hub.broadcast(req.bodyText, on: "chat")
    return HTTPStatus.accepted
}

try await app.run()
