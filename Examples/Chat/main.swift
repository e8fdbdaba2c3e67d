// A chat room: a page whose script talks to the server over WebSocket and EventSource.
//
//     swift run chat serve --bind 127.0.0.1:8000     # then open http://127.0.0.1:8000/?name=alice
//
// Everything said in the room goes through one BroadcastHub channel, so every client hears it,
// whichever way it is connected:
//
//     GET  /ws?name=N     WebSocket: each text message is said in the room as N; every message
//                         in the room comes back as a text message
//     GET  /events        Server-Sent Events: every message in the room as an event
//     POST /messages      form fields name and text: says text as name (for clients without
//                         WebSocket); 204
//     GET  /poll?wait=S   long-polling: the next message within S seconds (at most 30), or 204
import Carafe
import CarafeStreaming

let app = App()
let room = BroadcastHub(bufferSize: 64, policy: .dropOldest)
/// The longest message anyone may say, in bytes.
let maxMessage = 4096

func say(_ text: String, as name: String) throws -> Int {
    let line = "\(name): \(text)"
    guard !text.isEmpty, line.utf8.count <= maxMessage else {
        throw HTTPError(.badRequest, "A message must have 1 to \(maxMessage) bytes.")
    }
    return room.publish(line, on: "room")
}

func speaker(_ source: Parameters) throws -> String {
    let name = try source.get("name", as: String.self) ?? "anonymous"
    guard (1...32).contains(name.count), !name.contains(where: \.isNewline) else {
        throw HTTPError(.badRequest, "A name must have 1 to 32 characters, on one line.")
    }
    return name
}

app.get("/") { _ in HTML(chatPage) }

app.websocket("/ws") { req, ws in
    let name = try speaker(req.query)
    let heard = room.subscribe("room")
    try await ws.send("* joined as \(name)")
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            for await line in heard { try await ws.send(line) }
        }
        for await message in ws.messages {
            guard case .text(let text) = message else { continue }
            do {
                _ = try say(text, as: name)
            } catch {
                try await ws.send("* \(error)")
            }
        }
        group.cancelAll()  // the client left: stop listening for it
    }
}

app.sse("/events") { _, events in
    let heard = room.subscribe("room")
    try await events.send(data: "* listening", event: "joined")
    for await line in heard { try await events.send(data: line) }
}

app.post("/messages") { req in
    _ = try say(try req.form.require("text", as: String.self), as: try speaker(req.form))
    return Response(status: .noContent)
}

app.get("/poll") { req in
    let wait = min(max(try req.query.get("wait", as: Int.self) ?? 25, 1), 30)
    guard let line = await room.next(on: "room", timeout: .seconds(wait)) else { return Response(status: .noContent) }
    return Response(text: line)
}

try await app.run()
