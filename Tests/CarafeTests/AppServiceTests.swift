import Carafe
import CarafeTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The app and swift-service-lifecycle: an app inside a user's `ServiceGroup` (`app.service`),
/// and user services inside the app (`app.addService`), over a real socket with curl.
@Suite(.serialized) struct AppServiceTests {
    /// A user's service: notes when its `run()` starts and when it returns (at the graceful shutdown).
    struct RecordingService: Service {
        let name: String
        let recorder: TestRecorder

        func run() async throws {
            self.recorder.record("\(self.name) started")
            try? await gracefulShutdown()
            self.recorder.record("\(self.name) stopped")
        }
    }

    struct FailingService: Service {
        struct Failure: Error {}
        func run() async throws { throw Failure() }
    }

    static let loopback = HTTPServerConfiguration(bind: [.hostPort(host: "127.0.0.1", port: 0)])

    /// curl's exit status and what it printed (the body).
    static func curl(_ url: String) throws -> (status: Int32, body: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-s", "--max-time", "10", url]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs `group` while `body` gets the port the app serves on, then shuts the group down
    /// gracefully and waits for it.
    static func run(_ group: ServiceGroup, serving: AsyncStream<[SocketAddress]>, _ body: (Int) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var addresses = serving.makeAsyncIterator()
            let port = try #require(await addresses.next()?.first?.port)
            try await body(port)
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
    }

    @Test func anAppInsideAUsersServiceGroupServesThenStopsOnItsGracefulShutdown() async throws {
        let app = App()
        app.get("/") { _ in "hello from a service group" }
        let recorder = TestRecorder()
        let (serving, ready) = AsyncStream.makeStream(of: [SocketAddress].self)
        let group = ServiceGroup(
            services: [RecordingService(name: "user", recorder: recorder), app.service(Self.loopback) { ready.yield($0) }],
            logger: Logger(label: "test")
        )
        var port = 0
        try await Self.run(group, serving: serving) { served in
            port = served
            let answer = try Self.curl("http://127.0.0.1:\(served)/")
            #expect(answer.status == 0)
            #expect(answer.body == "hello from a service group")
        }
        // The group returned: the app stopped (its socket is closed) and the user's service returned.
        #expect(recorder.all == ["user started", "user stopped"])
        #expect(try Self.curl("http://127.0.0.1:\(port)/").status == 7, "curl: could not connect")
    }

    @Test func aServiceAddedToTheAppStartsBeforeItsRequestsAndStopsAfterTheDrainBeforeTheStopHooks() async throws {
        let app = App()
        let recorder = TestRecorder()
        app.get("/") { _ in
            recorder.record("request")
            return "served"
        }
        app.addService(RecordingService(name: "added", recorder: recorder))
        app.onStop { recorder.record("stop hook") }
        let (serving, ready) = AsyncStream.makeStream(of: [SocketAddress].self)
        let group = ServiceGroup(services: [app.service(Self.loopback) { ready.yield($0) }], logger: Logger(label: "test"))
        try await Self.run(group, serving: serving) { port in
            let answer = try Self.curl("http://127.0.0.1:\(port)/")
            #expect(answer.body == "served")
        }
        #expect(recorder.all == ["added started", "request", "added stopped", "stop hook"])
    }

    @Test func aServiceOfTheAppThatFailsStopsTheApp() async throws {
        let app = App()
        app.get("/") { _ in "never asked" }
        app.addService(FailingService())
        let group = ServiceGroup(services: [app.service(Self.loopback)], logger: Logger(label: "test"))
        // No graceful shutdown from here: the failing service alone ends the app, and the user's
        // group reports the app's service as finished (ServiceLifecycle's default for that).
        let began = ContinuousClock.now
        await #expect(throws: ServiceGroupError.self) { try await group.run() }
        #expect(ContinuousClock.now - began < .seconds(20))
    }
}
