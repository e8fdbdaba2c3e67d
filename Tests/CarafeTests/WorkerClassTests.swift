import CarafeTesting
import Dispatch
import Foundation
import NIOCore
import Synchronization
import Testing

@testable import Carafe
@testable import CarafeCore

/// The worker class (`App.workerClass`, `--worker-class`), `blocking:`'s three states, and the
/// bounded queue of the thread pool, through the test client (the process-level tests are in
/// CarafeSupervisorTests/WorkerClassTests).
@Suite struct WorkerClassTests {
    /// The current thread's name as the kernel knows it (NIO names its pool's threads `TP-#n`).
    static var threadName: String {
        let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
        return comm.trimmingCharacters(in: .newlines)
    }

    static var onPool: Bool { Self.threadName.hasPrefix("TP-#") }

    static func app(_ workerClass: WorkerClass) -> App {
        let app = App()
        app.workerClass = workerClass
        app.get("/unsaid") { _ in "\(Self.onPool)" }
        app.get("/blocking", blocking: true) { _ in "\(Self.onPool)" }
        app.get("/loop", blocking: false) { _ in "\(Self.onPool)" }
        return app
    }

    @Test(arguments: [WorkerClass.async, .threads])
    func aRoutesOwnBlockingAlwaysWinsAndUnsaidFollowsTheWorkerClass(_ workerClass: WorkerClass) async {
        let app = Self.app(workerClass)
        #expect(await app.test.get("/unsaid").text == "\(workerClass == .threads)")
        #expect(await app.test.get("/blocking").text == "true")
        #expect(await app.test.get("/loop").text == "false")
        let placements = app.routes.map { "\($0.pattern) \($0.blocking.map(String.init) ?? "nil") \($0.runsOnThreadPool(workerClass))" }
        #expect(placements == ["/unsaid nil \(workerClass == .threads)", "/blocking true true", "/loop false false"])
    }

    @Test func underThreadsHooksHandlerAndStreamedBodyRunOnThePool() async throws {
        let app = App()
        app.workerClass = .threads
        let places = Mutex<[String]>([])
        app.before { _ in
            places.withLock { $0.append("before \(Self.onPool)") }
            return nil
        }
        app.after { _, response in
            places.withLock { $0.append("after \(Self.onPool)") }
            return response
        }
        app.get("/stream") { _ in
            places.withLock { $0.append("handler \(Self.onPool)") }
            try await Task.sleep(for: .milliseconds(1))  // an await in between: back on the pool after it
            places.withLock { $0.append("resumed \(Self.onPool)") }
            return Response(
                status: .ok,
                body: .stream(length: nil) { writer in
                    places.withLock { $0.append("body \(Self.onPool)") }
                    try await writer.write(ByteBuffer(string: "streamed"))
                }
            )
        }
        #expect(await app.test.get("/stream").text == "streamed")
        #expect(places.withLock { $0 } == ["before true", "handler true", "resumed true", "after true", "body true"])
    }

    @Test func theRouteTableSaysWhereEachRouteRuns() {
        let app = Self.app(.async)
        #expect(
            app.routeTable == """
                worker class: async (routes that do not say blocking: run on the event loop)
                METHOD  PATH       NAME  RUNS ON
                GET     /unsaid          event loop
                GET     /blocking        thread pool (blocking: true)
                GET     /loop            event loop (blocking: false)

                """
        )
        #expect(app.routeTable(workerClass: .threads).contains("GET     /unsaid          thread pool\n"))
    }

    // MARK: The pool's bounded queue

    @Test func pastTheQueueLimitARequestIsRefusedAtOnceWith503AndRetryAfter() async throws {
        let app = App()
        app.blockingThreads = 1
        app.threadQueueLimit = 1
        let release = DispatchSemaphore(value: 0)
        app.get("/work", blocking: true) { _ in
            release.wait()
            return "done"
        }
        app.get("/free") { _ in "free" }
        let pool = app.services.blockingPool
        // The first request takes the only thread, the second waits in the queue.
        let first = Task { await app.test.get("/work") }
        try await waitUntil { pool.waiting == 0 && pool.running == 1 }
        let second = Task { await app.test.get("/work") }
        try await waitUntil { pool.waiting == 1 }

        let started = ContinuousClock.now
        let refused = await app.test.get("/work")
        #expect(ContinuousClock.now - started < .seconds(1), "refused at once")
        #expect(refused.status == .serviceUnavailable)
        #expect(refused.headers.first(name: "retry-after") == "1")
        #expect(
            refused.text.contains("1 jobs are already waiting for one of 1 threads (the limit is 1, --thread-queue-limit)"),
            "\(refused.text)"
        )
        // Routes on the loop are not affected.
        #expect(await app.test.get("/free").text == "free")

        release.signal()
        release.signal()
        #expect(await first.value.text == "done")
        #expect(await second.value.text == "done")
        #expect(pool.waiting == 0)
    }

    @Test func theQueueLimitIsACommandLineOption() {
        // `--thread-queue-limit` and `--worker-class` appear in `serve --help`.
        let help = CarafeCommand.helpMessage(for: ServeCommand.self)
        #expect(help.contains("--thread-queue-limit"))
        #expect(help.contains("-k, --worker-class"))
    }
}

/// Polls `condition` every millisecond, for at most 5 s.
func waitUntil(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(5)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within 5 s")
            return
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}
