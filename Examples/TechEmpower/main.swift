// The TechEmpower Framework Benchmarks (TFB) test types on Carafe, by TFB's rules, on the
// project's own database layer (CarafeSQL over CarafePostgres) and templates (CarafeMustache):
//   GET /plaintext                 Hello, World! (text/plain)
//   GET /json                      {"message":"Hello, World!"}
//   GET /db                        one random World row: {"id":N,"randomNumber":M}
//   GET /queries?queries=N         N random rows, each its own SELECT (N clamped to 1...500; missing or not an integer: 1)
//   GET /fortunes                  the fortune table plus one added at request time, sorted by message, as HTML
//   GET /updates?queries=N         N random rows read as in /queries, each given a new random number, written back
//   GET /cached-queries?count=N    N random rows from an in-memory copy of the table (filled on first use)
// Every answer has Server, Date and Content-Length (Carafe's). Statements are prepared once per
// connection (the driver's statement cache); /queries and /updates queue their SELECTs on one
// connection at once (`rows(all:)`), and /updates writes its rows back in one UPDATE, as TFB allows.
// Environment: PGHOST (127.0.0.1), PGPORT (5432), PGUSER (postgres), PGPASSWORD, PGDATABASE
// (postgres), PG_POOL (56: connections in all, shared out between the event loops).
//   techempower serve --bind 127.0.0.1:8080
import Carafe
import CarafeMustache
import CarafePostgres
import CarafeSQL
import Foundation

let settings = DatabaseSettings(environment: ProcessInfo.processInfo.environment)
let db = Database(driver: try PostgresDriver(url: settings.url, pool: settings.pool))
let worlds = WorldStore(database: db)
let cache = WorldCache(database: db)

let app = App()
app.onStop { await db.shutdown() }
try app.templates(directory: Bundle.module.path(forResource: "Templates", ofType: nil) ?? "Templates")

app.get("/plaintext") { _ in Response(text: "Hello, World!", contentType: "text/plain") }

app.get("/json") { _ in try Response.json(Message(message: "Hello, World!")) }

app.get("/db") { _ in try Response.json(try await worlds.random()) }

app.get("/queries") { req in try Response.json(try await worlds.random(count: queryCount(req.query["queries"]))) }

app.get("/updates") { req in try Response.json(try await worlds.update(count: queryCount(req.query["queries"]))) }

app.get("/cached-queries") { req in try Response.json(try await cache.random(count: queryCount(req.query["count"]))) }

app.get("/fortunes") { req in
    var fortunes = try await db.rows("SELECT id, message FROM fortune").map { try Fortune(row: $0) }
    fortunes.append(Fortune(id: 0, message: "Additional fortune added at request time."))
    fortunes.sort { $0.message.utf8.lexicographicallyPrecedes($1.message.utf8) }  // by code point, as TFB's check sorts
    return try req.render("fortunes", ["fortunes": fortunes.map(\.context)])
}

try await app.run()
