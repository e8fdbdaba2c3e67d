import Carafe
import Foundation
import CarafeTesting
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

    @Test func heartbeatsGoOutWhileTheHandlerWaits() async {
        let app = App()
        app.sse("/quiet", heartbeat: .milliseconds(30)) { _, _ in
            try await Task.sleep(for: .milliseconds(200))
        }
        let text = await app.test.get("/quiet").text
        #expect(text.hasPrefix(": ping\n\n"))
        #expect(text.components(separatedBy: ": ping\n\n").count - 1 >= 2, "\(text)")
    }
}
