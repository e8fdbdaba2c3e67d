import Carafe
import CarafeTesting
import Foundation
import ProcessTestSupport
import Testing

@testable import CarafeStreaming

@Suite struct ServerSentEventTests {
    @Test func anEventIsEncodedWithEachFieldOnItsOwnLine() {
        let event = ServerSentEvent(data: "one\ntwo\r\nthree\rfour", event: "note", id: "7", retry: 3000)
        #expect(event.encoded == "event: note\nid: 7\nretry: 3000\ndata: one\ndata: two\ndata: three\ndata: four\n\n")
        #expect(ServerSentEvent(data: "").encoded == "data: \n\n")
    }

    @Test func lineBreaksCannotForgeFieldsInEventOrID() {
        let event = ServerSentEvent(data: "x", event: "a\ndata: forged", id: "1\r\nevent: evil")
        #expect(event.encoded == "event: adata: forged\nid: 1event: evil\ndata: x\n\n")
    }

    @Test func anSSERouteAnswersAnEventStreamWithProxyFriendlyHeaders() async {
        let app = App()
        app.sse("/events", heartbeat: nil) { req, events in
            try await events.comment("hello")
            try await events.send(data: "resumed after \(events.lastEventID ?? "nothing")", id: "2")
        }
        let response = await app.test.get("/events", headers: ["Last-Event-ID": "1"])
        #expect(response.status == .ok)
        #expect(response.headers["content-type"] == ["text/event-stream; charset=utf-8"])
        #expect(response.headers["cache-control"] == ["no-cache"])
        #expect(response.headers["x-accel-buffering"] == ["no"])
        #expect(response.headers["content-length"].isEmpty)
        #expect(response.text == ": hello\n\nid: 2\ndata: resumed after 1\n\n")
    }

    @Test func heartbeatsGoOutOnlyWhileNoEventDoes() async throws {
        let app = App()
        app.sse("/quiet", heartbeat: .milliseconds(50)) { _, _ in
            try await Task.sleep(for: .seconds(10))
        }
        app.sse("/busy", heartbeat: .milliseconds(100)) { _, events in
            for number in 0..<100 {
                try await events.send(data: "\(number)")
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        try await withServedApp(app) { base in
            // The heartbeat is a timer on the connection's loop: it needs a real connection.
            let quiet = try runProcess("/usr/bin/curl", ["-s", "-N", "--max-time", "0.5", base + "/quiet"]).output
            #expect(quiet.hasPrefix(": ping\n\n"), "\(quiet)")
            #expect(quiet.components(separatedBy: ": ping\n\n").count - 1 >= 3, "\(quiet)")
            #expect(quiet.replacingOccurrences(of: ": ping\n\n", with: "").isEmpty, "\(quiet)")
            let busy = try runProcess("/usr/bin/curl", ["-s", "-N", "--max-time", "0.5", base + "/busy"]).output
            #expect(busy.hasPrefix("data: 0\n\n"), "\(busy)")
            #expect(!busy.contains(": ping"), "a heartbeat went out while events did: \(busy)")
        }
    }
}

/// Serves `app` on a free port of 127.0.0.1 while `body` runs, and passes it `http://127.0.0.1:PORT`.
func withServedApp(_ app: App, _ body: (String) async throws -> Void) async throws {
    let server = HTTPServer(
        configuration: HTTPServerConfiguration(bind: [.hostPort(host: "127.0.0.1", port: 0)], eventLoops: 1),
        responder: app,  // `App` is the responder
        logger: Logger(label: "carafe.test")
    )
    try await server.start()
    do {
        try await body("http://127.0.0.1:\(server.localAddresses.first?.port ?? 0)")
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}
