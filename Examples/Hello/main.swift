// The benchmark endpoints of ../shared/bench, served by Carafe.
import Carafe

struct Message: Content {
    let message: String
}

let app = App()

app.get("/plaintext") { _ in "Hello, World!" }

app.get("/json") { _ in Message(message: "Hello, World!") }

// Waits `ms` milliseconds without blocking the event loop, as a database call would.
app.get("/io") { req in
    let ms = try req.query.get("ms", as: Int.self) ?? 20
    guard (0...60_000).contains(ms) else { try abort(.badRequest, "ms must be between 0 and 60000.") }
    try await Task.sleep(for: .milliseconds(ms))
    return "ok"
}

try await app.run()
