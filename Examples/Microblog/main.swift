// Microblog: a miniature of the classic Flask microblog. Sign up and log in (scrypt password
// hashes; the session in a signed, HttpOnly, SameSite cookie), post, follow and unfollow, a
// paginated home timeline, user pages, a JSON API for the same, Mustache templates, CSRF
// tokens on every form, and a live timeline over Server-Sent Events.
//
//     swift run microblog serve --bind 127.0.0.1:8000          # SQLite in ./microblog.sqlite
//     DATABASE_URL=postgres://app:secret@127.0.0.1:5432/app swift run microblog serve --workers 4
//     swift run microblog serve --print-config                  # every setting and where it came from
//
// Settings (DATABASE_URL, SECRET_KEY, PAGE_SIZE, AVATAR_DIRECTORY) come through `app.config`: the environment,
// a `.env` file, or a JSON or TOML file given with `--config` (see Settings.swift).
//
// It applies its migrations (migrations/) when it starts, so a fresh machine needs nothing
// else. With PostgreSQL, new posts reach the live timelines of every worker process through
// LISTEN/NOTIFY.
import Carafe
import CarafeDatabase
import CarafeMustache
import CarafeSessions
import CarafeStreaming
import CarafeTOML
import Foundation

let app = App()
// `--config microblog.toml` as well as JSON (CarafeTOML).
app.config.useTOML()
let settings = Settings.load(app.config)

let db = try Database.open(url: settings.databaseURL)
let passwords = PasswordHasher()
/// Checked when no user has the name, so that the answer takes as long as for a real one.
let dummyHash = try passwords.hashBlocking("no such user")
let migrations = Bundle.module.path(forResource: "migrations", ofType: nil) ?? "migrations"
app.useDatabase(db, migrations: migrations)
// Every process that serves migrates first (each file once; concurrent workers take turns).
app.onStart { _ in try await db.migrate(directory: migrations, logger: app.logger) }

try app.sessions(secretKey: SecretKey.load(configured: settings.secretKey, file: settings.secretKeyFile, logger: app.logger))
// `req.user`: the users row the session names, once per request; a session from before the
// user's last log-out (another session_version) counts as none.
// Scripts may instead send `Authorization: Basic` (curl -u ann:PASSWORD) or `Authorization:
// Bearer TOKEN` (a token from POST /api/tokens) on every request, over HTTPS, for the API's
// reads; writes need the session and its CSRF token.
app.login(
    Viewer.self,
    loginPage: "/login",
    loader: { req, id in
        guard let id = Int(id) else { return nil }
        return try await Queries.viewer(req.db, id: id)
    },
    requestLoader: { req in
        if let token = req.bearerToken { return try await Queries.viewer(req.db, tokenHash: APIToken.hash(token)) }
        guard let credentials = req.basicCredentials else { return nil }
        let stored = try await Queries.credentials(req.db, username: credentials.username)
        guard try await passwords.verify(credentials.password, against: stored?.passwordHash ?? dummyHash), let stored else { return nil }
        return stored.viewer
    }
)
app.static("/static", directory: Bundle.module.path(forResource: "static", ofType: nil) ?? "static")
try app.templates(directory: Bundle.module.path(forResource: "Templates", ofType: nil) ?? "Templates")
app.csrfProtection()

let hub = BroadcastHub(backplane: db.dialect == .postgres ? try PostgresBackplane(database: db, logger: app.logger) : nil)
app.addService(hub)  // its LISTEN connection closes after the drain
let pages = Pages(passwords: passwords, dummyHash: dummyHash, live: LiveTimeline(hub: hub, logger: app.logger), settings: settings)
pages.register(on: app)
Avatars(directory: settings.avatarPath).register(on: app)
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
