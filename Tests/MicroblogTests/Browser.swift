import Foundation
import ProcessTestSupport

/// What a microblog user does with the shared curl `Browser`.
extension Browser {
    func signUp(_ name: String, password: String = "correct horse") throws -> Page {
        try self.submit("/signup", to: "/signup", [("username", name), ("password", password)])
    }

    /// Writes a post from the home page's form.
    func write(_ body: String) throws -> Page {
        try self.submit("/", to: "/post", [("body", body)])
    }
}

/// `curl -N` reading an event stream in the background, with a browser's cookies.
final class EventStreamReader {
    let process = Process()
    let output = PipeCollector()

    init(_ url: String, cookies jar: String) throws {
        self.process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        self.process.arguments = ["-s", "-N", "--max-time", "60", "-b", jar, url]
        self.process.standardOutput = self.output.pipe
        self.process.standardError = FileHandle.nullDevice
        try self.process.run()
    }

    deinit { if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) } }

    /// Waits until the stream holds `text`; false after `timeout` seconds.
    func waitFor(_ text: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if self.output.text.contains(text) { return true }
            usleep(20_000)
        }
        return false
    }
}
