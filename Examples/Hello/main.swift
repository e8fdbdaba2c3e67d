// The benchmark endpoints of ../shared/bench, served by Carafe.
import Carafe
import CarafeStreaming

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

// Exactly `bytes` bytes of "x", written 64 KiB at a time; each write waits for a slow client.
app.get("/stream") { req in
    let bytes = try req.query.get("bytes", as: Int.self) ?? 1 << 20
    guard bytes >= 0 else { try abort(.badRequest, "bytes must not be negative.") }
    let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
    return Response.stream(length: bytes) { writer in
        var left = bytes
        while left > 0 {
            try await writer.write(chunk.getSlice(at: chunk.readerIndex, length: min(left, chunk.readableBytes))!)
            left -= min(left, chunk.readableBytes)
        }
    }
}

// Reads the body chunk by chunk as it arrives (never whole) and answers its length.
app.post("/upload", body: .stream) { req in
    var length = 0
    for try await chunk in req.bodyStream {
        length += chunk.readableBytes
    }
    return String(length)
}

// Server-Sent Events: ": hello" at once, then each text POSTed to /publish, and ": ping" every 15 s.
let hub = BroadcastHub()
app.sse("/sse") { _, events in
    try await events.comment("hello")
    for await text in hub.subscribe("bench") {
        try await events.send(data: text)
    }
}

// Hands the body (UTF-8 text, at most 64 KiB) to every /sse subscriber; answers how many queued it.
app.post("/publish") { req in
    guard req.body.readableBytes <= 64 * 1024 else { try abort(.payloadTooLarge, "At most 64 KiB may be published.") }
    return String(hub.publish(req.bodyText, on: "bench"))
}

// WebSocket echo: each text or binary message comes back unchanged (at most 16 MiB, like the
// peers in ../shared/bench, else close 1009; the library's default limit is 1 MiB).
app.websocket("/ws", options: WebSocketOptions(maxMessageSize: 16 << 20)) { _, ws in
    for await message in ws.messages {
        try await ws.send(message)
    }
}

try await app.run()
