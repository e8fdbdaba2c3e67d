// An app as it runs behind nginx: what it sees of the client, streaming, uploads, static files
// served by Carafe or handed to nginx. The nginx tests run it; `docs/nginx.md` describes the setup.
import Carafe
import CarafeDatabase
import CarafeStreaming
import Foundation

struct Client: Content {
    let remote: String
    let peer: String
    let peerPort: Int
    let scheme: String
    let host: String
    let scriptRoot: String
    let url: String
    let pid: Int32
}

let app = App()

app.get("/plaintext") { _ in "Hello, World!" }

app.get("/pid") { _ in "\(getpid())" }

// What the app believes about the client: after the trusted proxy's forwarded headers.
app.get("/client") { req in
    Client(
        remote: req.remoteAddress?.ipAddress ?? "-",
        peer: req.peerAddress.map { $0.ipAddress ?? "unix" } ?? "-",
        peerPort: req.peerAddress?.port ?? 0,
        scheme: req.scheme,
        host: req.host ?? "-",
        scriptRoot: req.scriptRoot,
        url: try req.url(for: "user", ["id": "7"], external: true),
        pid: getpid()
    )
}

app.get("/users/:id", name: "user") { req in "user \(try req.parameters.require("id", as: Int.self))" }

// Echoes a collected body's length and a digest-like sum, to check it arrived intact.
app.post("/echo") { req in "\(req.body.readableBytes) \(req.body.readableBytesView.reduce(0) { ($0 &+ Int($1)) & 0xFFFF_FFFF })" }

// Reads the body chunk by chunk as it arrives and answers its length.
app.post("/upload", body: .stream) { req in
    var length = 0
    for try await chunk in req.bodyStream { length += chunk.readableBytes }
    return String(length)
}

// Waits `ms` milliseconds without blocking the loop.
app.get("/io") { req in
    let ms = try req.query.get("ms", as: Int.self) ?? 20
    guard (0...60_000).contains(ms) else { try abort(.badRequest, "ms must be between 0 and 60000.") }
    try await Task.sleep(for: .milliseconds(ms))
    return "ok"
}

// ": hello" at once, then each text POSTed to /publish as an event. With DATABASE_URL (a
// PostgreSQL), a publish reaches the subscribers of every process on every host, through
// LISTEN/NOTIFY; without, those of this process.
let hub: BroadcastHub
if let url = ProcessInfo.processInfo.environment["DATABASE_URL"] {
    let db = try Database.open(url: url)
    app.useDatabase(db)
    hub = BroadcastHub(backplane: try PostgresBackplane(database: db, logger: app.logger))
} else {
    hub = BroadcastHub()
}
app.addService(hub)
app.sse("/sse") { _, events in
    try await events.comment("hello")
    for await text in hub.subscribe("news") {
        try await events.send(data: text)
    }
}
app.post("/publish") { req in
    guard hub.backplane != nil else { return String(hub.publish(req.bodyText, on: "news")) }
    try await hub.broadcast(req.bodyText, on: "news")
    return "sent"
}

// WebSocket echo, through nginx's upgrade map.
app.websocket("/ws") { _, ws in
    for await message in ws.messages { try await ws.send(message) }
}

// Static files from $STATIC_DIR: sent by Carafe at /static, handed to nginx at /offloaded
// (X-Accel-Redirect to nginx's internal location /_static/).
let directory = ProcessInfo.processInfo.environment["STATIC_DIR"] ?? "Public"
app.static("/static", directory: directory)
app.static("/offloaded", directory: directory, offload: .accelRedirect("/_static/"))

try await app.run()
