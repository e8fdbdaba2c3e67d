import Foundation
import ProcessTestSupport
import Testing

/// `hello`'s `/sse` and `/publish`, over real sockets with curl as the client, as the shared
/// benchmarks use them.
@Suite struct HelloEventStreamTests {
    /// `curl -N URL/sse` in the background, its output collected as it arrives.
    final class Subscriber: @unchecked Sendable {
        let process = Process()
        private let output = PipeCollector()

        init(_ url: String) throws {
            self.process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            self.process.arguments = ["-s", "-N", "--max-time", "30", url]
            self.process.standardOutput = self.output.pipe
            try self.process.run()
        }

        var text: String { self.output.text }

        deinit { if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) } }
    }

    static func publish(_ text: String, to port: Int) throws -> String {
        try curl(["--data-binary", text, "http://127.0.0.1:\(port)/publish"])
    }

    @Test func publishedTextReachesEverySubscriberAsEvents() throws {
        let server = try ServerProcess(builtExecutable("hello"), ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"])
        let url = "http://127.0.0.1:\(server.port)/sse"
        let subscribers = try [Subscriber(url), Subscriber(url)]
        #expect(eventually(timeout: 10) { subscribers.allSatisfy { $0.text.hasPrefix(": hello\n\n") } })
        #expect(eventually(timeout: 10) { (try? Self.publish("x", to: server.port)) == "2" })
        #expect(try Self.publish("first line\nsecond line", to: server.port) == "2")
        let expected = "data: first line\ndata: second line\n\n"
        #expect(eventually(timeout: 10) { subscribers.allSatisfy { $0.text.hasSuffix(expected) } }, "\(subscribers.map(\.text))")
    }

    @Test func aSubscriberThatLeavesIsDroppedAtOnceNotAtTheNextHeartbeat() throws {
        let server = try ServerProcess(builtExecutable("hello"), ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"])
        let subscriber = try Subscriber("http://127.0.0.1:\(server.port)/sse")
        #expect(eventually(timeout: 10) { subscriber.text.hasPrefix(": hello") })
        #expect(try Self.publish("ping", to: server.port) == "1")
        kill(subscriber.process.processIdentifier, SIGKILL)
        subscriber.process.waitUntilExit()
        // The heartbeat is 15 s away and nothing is published meanwhile (a failed write would
        // also end the handler): only the disconnect itself can have ended it within 2 s.
        Thread.sleep(forTimeInterval: 2)
        #expect(try Self.publish("anyone?", to: server.port) == "0")
    }

    @Test func aPublishOverTheLimitIs413() throws {
        let server = try ServerProcess(builtExecutable("hello"), ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"])
        let big = String(repeating: "x", count: 64 * 1024 + 1)
        let status = try curl(["-o", "/dev/null", "-w", "%{http_code}", "--data-binary", big, "http://127.0.0.1:\(server.port)/publish"])
        #expect(status == "413")
    }
}
