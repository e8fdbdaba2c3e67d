// The benchmark endpoints of ../shared/bench, served by Carafe.
import Carafe
import CarafeCompression
import CarafeHTTP2
import CarafeMetrics
import CarafeStreaming
import CarafeTLS
import Crypto
import Foundation  // usleep, for /block

struct Message: Content {
    let message: String
}

/// hello's settings (docs/configuration.md): `CORS_ORIGINS='["http://127.0.0.1:5000"]'` in the
/// environment, or `cors_origins` in a `--config` file.
struct HelloSettings: Codable {
    var corsOrigins = ["https://app.example"]
}

let app = App()
// Pages of these origins (by default https://app.example) may call every route from a browser (no cookies).
let settings = app.config.loadOrExit(HelloSettings())
try app.cors(CORS(allowedOrigins: settings.corsOrigins, allowedHeaders: ["Content-Type"]))
// gzip or deflate for textual responses of 500 bytes or more, streams included.
app.compression()
// `serve --certfile --keyfile` (HTTPS, with h2 by ALPN) and `serve --h2c`.
app.useTLS()
app.useHTTP2()
// `serve --metrics-bind 127.0.0.1:9100` serves Prometheus metrics there (docs/observability.md).
app.metricsExporter = PrometheusExporter()

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

// Trailers (docs/streaming.md): reads the body as it arrives, then the trailers the client sent
// after it (chunked HTTP/1.1, HTTP/2), and answers with the body's length and sha256 and those
// trailers as JSON, and `checksum-ok` when the client's `x-checksum` trailer matched.
struct TrailerEcho: Content {
    let size: Int
    let sha256: String
    let trailers: [String: String]
    let checksum_ok: Bool?
}
app.post("/trailers", body: .stream) { req in
    var hash = SHA256()
    var size = 0
    for try await chunk in req.bodyStream {
        chunk.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
        size += chunk.readableBytes
    }
    let hex = hash.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    let trailers = try await req.trailers
    let sent = trailers.first(name: "x-checksum")
    return TrailerEcho(
        size: size,
        sha256: hex,
        trailers: Dictionary(trailers.map { ($0.name.lowercased(), $0.value) }) { first, _ in first },
        checksum_ok: sent.map { $0 == hex }
    )
}

// A streamed body of `chunks` chunks of 1 KiB that ends with trailers: `x-checksum` (the body's
// sha256, known only at the end) and `grpc-status: 0`, announced by a `Trailer` header.
app.get("/trailers") { req in
    let chunks = try req.query.get("chunks", as: Int.self) ?? 4
    guard (0...4096).contains(chunks) else { try abort(.badRequest, "chunks must be between 0 and 4096.") }
    var response = Response.stream(contentType: "application/octet-stream") { writer in
        var hash = SHA256()
        for index in 0..<chunks {
            let chunk = ByteBuffer(repeating: UInt8(ascii: "a") + UInt8(index % 26), count: 1024)
            chunk.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
            try await writer.write(chunk)
        }
        let hex = hash.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        try await writer.writeTrailers(["x-checksum": hex, "grpc-status": "0"])
    }
    response.headers.add(name: "trailer", value: "x-checksum, grpc-status")
    return response
}

// Each part of a multipart/form-data body, hashed as it arrives (never held whole): a JSON array
// of {name, filename, content_type, size, sha256}. No total size limit; the default part limits.
struct PartDigest: Content {
    let name: String
    let filename: String?
    let content_type: String?
    let size: Int
    let sha256: String

    // `null`, not an absent key, for a part without a file name or a content type.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.name, forKey: .name)
        try container.encode(self.filename, forKey: .filename)
        try container.encode(self.content_type, forKey: .content_type)
        try container.encode(self.size, forKey: .size)
        try container.encode(self.sha256, forKey: .sha256)
    }
}
app.post("/multipart", body: .stream) { req in
    var digests: [PartDigest] = []
    for try await part in try req.multipartParts(limits: MultipartLimits(maxTotalSize: .max)) {
        var hash = SHA256()
        var size = 0
        for try await chunk in part.body {
            chunk.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
            size += chunk.readableBytes
        }
        let hex = hash.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        digests.append(PartDigest(name: part.name, filename: part.filename, content_type: part.contentType, size: size, sha256: hex))
    }
    return digests
}

// `bytes` bytes (default 65536) of text/plain: a repeated sentence, for compression.
app.get("/text") { req in
    let bytes = try req.query.get("bytes", as: Int.self) ?? 65536
    guard (0...(64 << 20)).contains(bytes) else { try abort(.badRequest, "bytes must be between 0 and 67108864.") }
    let sentence = Array("The quick brown fox jumps over the lazy dog. ".utf8)
    var body = ByteBuffer()
    body.reserveCapacity(bytes)
    while body.readableBytes < bytes {
        body.writeBytes(sentence.prefix(bytes - body.readableBytes))
    }
    return Response(text: String(buffer: body))
}

// Server-Sent Events: ": hello" at once, then each text POSTed to /publish, and ": ping" every 15 s.
let hub = BroadcastHub()
app.sse("/sse") { _, events in
    try await events.comment("hello")
    // The hub writes to the connection itself from here on: no task waits per client.
    try await events.relay(hub, channel: "bench")
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

// A WebSocket chat room on the same hub: every text a client (or POST /publish) sends reaches
// every /sse and /ws-relay subscriber. The hub writes to the connections itself: no task per client.
app.websocket("/ws-relay") { _, ws in
    await ws.relay(hub, channel: "bench") { message in
        if case .text(let text) = message { hub.publish(text, on: "bench") }
    }
}

// Blocks its event-loop thread for `ms` milliseconds ON PURPOSE (never do this in a handler):
// it shows the blocked-loop watchdog's log line and the stall metric (docs/observability.md).
app.get("/block", name: "blocks-the-loop-on-purpose") { req in
    let ms = try req.query.get("ms", as: Int.self) ?? 200
    guard (0...60_000).contains(ms) else { try abort(.badRequest, "ms must be between 0 and 60000.") }
    usleep(UInt32(ms) * 1000)
    return "blocked \(ms) ms"
}

try await app.run()
