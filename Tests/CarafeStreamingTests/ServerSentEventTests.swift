import Carafe
import CarafeTesting
import Foundation
import ProcessTestSupport
import Synchronization
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

    /// `relay` over a real connection: the handler returns at once, the hub writes the events,
    /// the loop's heartbeat wheel sends the pings, and the client's leaving ends the stream
    /// (the hub forgets it, the response's completion reports what was written).
    @Test func aRelayedStreamIsWrittenByTheHubAndEndsWithItsClient() async throws {
        let hub = BroadcastHub()
        let app = App()
        let summary = SummaryBox()
        app.sse("/relay", heartbeat: .milliseconds(300)) { req, events in
            req.completion.whenFinished { summary.set($0) }
            try await events.comment("hello")
            try await events.relay(hub, channel: "room")
            summary.handlerReturned()
        }
        try await withServedApp(app) { base in
            let output = PipeCollector()
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-s", "-N", "--max-time", "3", base + "/relay"]
            curl.standardOutput = output.pipe
            try curl.run()
            defer { if curl.isRunning { curl.terminate() } }
            #expect(eventually(timeout: 5) { hub.subscriberCount("room") == 1 })
            // The handler has returned; the response lives on.
            #expect(eventually(timeout: 5) { summary.returned })
            #expect(summary.value == nil)
            #expect(hub.publish("one\ntwo", on: "room") == 1)
            #expect(eventually(timeout: 5) { output.text.contains(": ping\n\n") }, "\(output.text)")
            #expect(output.text.hasPrefix(": hello\n\ndata: one\ndata: two\n\n"), "\(output.text)")
            curl.waitUntilExit()  // --max-time: the client goes away
            #expect(eventually(timeout: 5) { hub.subscriberCount("room") == 0 })
            #expect(eventually(timeout: 5) { summary.value != nil })
            #expect((summary.value?.bytes ?? 0) >= output.text.utf8.count)
            #expect(hub.publish("nobody", on: "room") == 0)
        }
    }

    /// An idle relayed stream holds no request: once the handler has returned (and the teardown
    /// hooks have run), the `Request`, and through it the connection's HTTP handlers, are freed
    /// while the hub goes on writing to the connection. Each would cost an idle stream kilobytes.
    @Test func aRelayedStreamDoesNotKeepItsRequestAlive() async throws {
        let hub = BroadcastHub()
        let app = App()
        let request = WeakRequestBox()
        let teardowns = Atomic<Int>(0)
        app.teardown { _, _ in teardowns.add(1, ordering: .relaxed) }
        app.sse("/relay", heartbeat: nil) { req, events in
            request.set(req)
            try await events.relay(hub, channel: "room")
        }
        try await withServedApp(app) { base in
            let output = PipeCollector()
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-s", "-N", "--max-time", "15", base + "/relay"]
            curl.standardOutput = output.pipe
            try curl.run()
            defer { if curl.isRunning { curl.terminate() } }
            #expect(eventually(timeout: 5) { hub.subscriberCount("room") == 1 })
            #expect(eventually(timeout: 5) { teardowns.load(ordering: .relaxed) == 1 })
            #expect(eventually(timeout: 5) { !request.isAlive }, "the idle stream still holds its Request")
            // The stream itself lives on.
            #expect(hub.publish("still here", on: "room") == 1)
            #expect(eventually(timeout: 5) { output.text.contains("data: still here") }, "\(output.text)")
        }
    }

    /// A server that drains ends a relayed stream properly (the last chunk), so curl exits 0.
    @Test func aDrainEndsARelayedStreamWithItsLastChunk() async throws {
        let hub = BroadcastHub()
        let app = App()
        app.sse("/relay", heartbeat: nil) { _, events in try await events.relay(hub, channel: "room") }
        struct Adapter: HTTPResponder {
            let app: App
            func respond(to request: HTTPServerRequest) async -> HTTPServerResponse { await self.app.respond(to: request) }
        }
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(bind: [.hostPort(host: "127.0.0.1", port: 0)], eventLoops: 2),
            responder: Adapter(app: app),
            logger: Logger(label: "carafe.test")
        )
        try await server.start()
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", "-N", "--max-time", "10", "http://127.0.0.1:\(server.localAddresses.first?.port ?? 0)/relay"]
        let output = PipeCollector()
        curl.standardOutput = output.pipe
        try curl.run()
        #expect(eventually(timeout: 5) { hub.subscriberCount("room") == 1 })
        hub.publish("before the drain", on: "room")
        #expect(eventually(timeout: 5) { output.text.contains("data: before the drain") })
        let began = Date()
        await server.shutdown()
        curl.waitUntilExit()
        #expect(curl.terminationStatus == 0, "curl exited \(curl.terminationStatus): the stream did not end properly")
        #expect(Date().timeIntervalSince(began) < 5)
        #expect(hub.subscriberCount("room") == 0)
    }
}

/// A weak reference to the request a handler saw.
final class WeakRequestBox: @unchecked Sendable {
    private let lock = NSLock()
    private weak var request: Request?
    func set(_ request: Request) { self.lock.withLock { self.request = request } }
    var isAlive: Bool { self.lock.withLock { self.request != nil } }
}

/// What a relayed stream's test saw, across tasks and the loop.
final class SummaryBox: @unchecked Sendable {
    private let lock = NSLock()
    private var summary: ResponseSummary?
    private var handlerDone = false
    func set(_ summary: ResponseSummary) { self.lock.withLock { self.summary = summary } }
    var value: ResponseSummary? { self.lock.withLock { self.summary } }
    func handlerReturned() { self.lock.withLock { self.handlerDone = true } }
    var returned: Bool { self.lock.withLock { self.handlerDone } }
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
