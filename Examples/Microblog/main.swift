// Microblog: a miniature of the classic Flask microblog. Sign up and log in (scrypt password
// hashes; the session in a signed, HttpOnly, SameSite cookie), post, follow and unfollow, a
// paginated home timeline, user pages, a JSON API for the same, Mustache templates, CSRF
// tokens on every form, and a live timeline over Server-Sent Events.
//
//     swift run microblog serve --bind 127.0.0.1:8000          # SQLite in ./microblog.sqlite
//     DATABASE_URL=postgres://app:secret@127.0.0.1:5432/app swift run microblog serve --workers 4
//
// It applies its migrations (migrations/) when it starts, so a fresh machine needs nothing
// else. With PostgreSQL, new posts reach the live timelines of every worker process through
// LISTEN/NOTIFY.
import Carafe
import CarafeDatabase
import CarafeMustache
import CarafeSessions
import CarafeStreaming
import Foundation

let environment = ProcessInfo.processInfo.environment
let configuration = Configuration(environment: environment)
let app = App()

let db = try Database.open(url: configuration.databaseURL)
let migrations = Bundle.module.path(forResource: "migrations", ofType: nil) ?? "migrations"
app.useDatabase(db, migrations: migrations)
// Every process that serves migrates first (each file once; concurrent workers take turns).
app.onStart { _ in try await db.migrate(directory: migrations, logger: app.logger) }

try app.sessions(secretKey: SecretKey.load(environment: environment, file: configuration.secretKeyFile, logger: app.logger))
try app.templates(directory: Bundle.module.path(forResource: "Templates", ofType: nil) ?? "Templates")
app.csrfProtection()

let hub = BroadcastHub(backplane: db.dialect == .postgres ? try PostgresBackplane(database: db, logger: app.logger) : nil)
let passwords = PasswordHasher()
let pages = Pages(passwords: passwords, dummyHash: try passwords.hashBlocking("no such user"), live: LiveTimeline(hub: hub, logger: app.logger))
pages.register(on: app)
app.register(API(pages: pages).blueprint())

// The live timeline: the new posts of the users the viewer follows (and their own), as
// `post` events whose data is the post's JSON. Whom they follow is read when they connect.
let live = Blueprint("live")
live.before { req in
    _ = try req.requireViewer()
    return nil
}
live.sse("/live") { req, events in
    let viewer = try req.requireViewer()
    try await pages.live.stream(to: events) { try await Queries.followedIds(req.db, viewer: viewer.id) }
}
app.register(live)

try await app.run()
