import Synchronization

/// Notes what hooks, handlers and teardown did, in order, for a test to check afterwards; safe
/// to share between a test and its app (handlers run on the server's threads).
///
///     let recorder = TestRecorder()
///     app.before { _ in recorder.record("before") }
///     app.get("/") { _ in recorder.record("handler"); return "ok" }
///     _ = await app.test.get("/")
///     #expect(recorder.all == ["before", "handler"])
public final class TestRecorder: Sendable {
    private let entries = Mutex<[String]>([])

    public init() {}

    /// Appends `entry`.
    public func record(_ entry: String) {
        self.entries.withLock { $0.append(entry) }
    }

    /// Every entry so far, in the order recorded.
    public var all: [String] { self.entries.withLock { $0 } }
}
