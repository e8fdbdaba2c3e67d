import Carafe
import CarafeTesting
import Foundation
import Synchronization
import Testing

/// Teardown hooks run when the whole response has ended: after a streamed body's last chunk,
/// so that what the stream uses (a transaction, a file) is released only once it is done.
@Suite struct TeardownTests {
    /// What a request holds while its response is written; teardown closes it.
    final class Resource: Sendable {
        enum Key: StorageKey { typealias Value = Resource }
        private let isOpen = Atomic(true)
        var open: Bool { self.isOpen.load(ordering: .relaxed) }
        func close() { self.isOpen.store(false, ordering: .relaxed) }
    }

    /// Counts teardowns.
    final class Counter: Sendable {
        private let count = Atomic(0)
        func add() { self.count.add(1, ordering: .relaxed) }
        var value: Int { self.count.load(ordering: .relaxed) }
    }

    /// An app whose streamed route writes three chunks, each saying whether the request's resource is
    /// still open; `closed` counts teardowns.
    static func app(closed: Counter) -> App {
        let app = App()
        app.before { req in
            req.storage[Resource.Key.self] = Resource()
            return nil
        }
        app.teardown { req, _ in
            req.storage[Resource.Key.self]?.close()
            closed.add()
        }
        app.get("/stream") { req in
            Response.stream(contentType: "text/plain") { writer in
                for _ in 0..<3 {
                    try await Task.sleep(for: .milliseconds(20))
                    let open = req.storage[Resource.Key.self]?.open == true
                    try await writer.write(ByteBuffer(string: open ? "open\n" : "closed\n"))
                }
            }
        }
        app.get("/plain") { req in req.storage[Resource.Key.self]?.open == true ? "open" : "closed" }
        return app
    }

    @Test func aStreamedBodySeesItsResourcesUntilItEndsOverASocket() async throws {
        let closed = Counter()
        let app = Self.app(closed: closed)
        try await withTestServer(responder: app) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/stream"))
            let response = try await connection.readResponse()
            #expect(response.bodyText == "open\nopen\nopen\n")
            #expect(await eventually { closed.value == 1 }, "teardown ran once, after the stream")

            try await connection.send(rawRequest("GET", "/plain"))
            #expect(try await connection.readResponse().bodyText == "open")
            #expect(await eventually { closed.value == 2 })
        }
    }

    @Test func theTestClientRunsTeardownAfterTheStreamToo() async {
        let closed = Counter()
        let app = Self.app(closed: closed)
        #expect(await app.test.get("/stream").text == "open\nopen\nopen\n")
        #expect(closed.value == 1)
        // HEAD never runs the producer: teardown still runs, once the response has ended.
        _ = await app.test.head("/stream")
        #expect(await eventually { closed.value == 2 })
    }

    @Test func aClientThatLeavesMidStreamStillGetsItsTeardown() async throws {
        let closed = Counter()
        let app = Self.app(closed: closed)
        try await withTestServer(responder: app) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/stream"))
            connection.closeWithReset()
            #expect(await eventually { closed.value == 1 })
        }
    }
}
