import Foundation

/// An example executable (`hello`, `SupervisorProbe`) beside the test bundle in the build folder.
public func builtExecutable(_ name: String) -> URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
}

/// A running server process. Its standard error is read all the time (so that the logs of a
/// master and its workers never fill the pipe) and kept for assertions, with its error log file
/// if it writes one (`--error-logfile`); the port comes from its own
/// `serving on http://127.0.0.1:PORT` line.
public final class ServerProcess: @unchecked Sendable {
    public let process = Process()
    public private(set) var port = 0
    private let stderr = PipeCollector()
    private let errorLog: String?

    public init(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil, errorLog: String? = nil) throws {
        self.errorLog = errorLog
        self.process.executableURL = executable
        self.process.arguments = arguments
        self.process.environment = withoutBacktracer(environment ?? ProcessInfo.processInfo.environment)
        self.process.standardError = self.stderr.pipe
        self.process.standardOutput = FileHandle.nullDevice
        try self.process.run()
        Self.killWhenTheTestsExit(self.process.processIdentifier)
        let pattern = #"serving on (https?://127\.0\.0\.1:(\d+)|unix:)"#
        guard self.waitForOutput(pattern, timeout: 20), let range = self.output.range(of: pattern, options: .regularExpression) else {
            kill(self.process.processIdentifier, SIGKILL)
            throw ServerDidNotStart(output: self.output)
        }
        self.port = Int(self.output[range].split(separator: ":").last ?? "") ?? 0
    }

    deinit {
        let children = childPIDs(of: self.process.processIdentifier)
        if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
        children.forEach { kill($0, SIGKILL) }
    }

    public var pid: Int32 { self.process.processIdentifier }

    /// A server that is never deinitialized (one shared by a suite, in a `static`) must not
    /// outlive the test process: a detached shell kills it once the tests have exited, and
    /// exits itself as soon as the server is gone.
    private static func killWhenTheTestsExit(_ server: Int32) {
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
        let tests = getpid()
        watchdog.arguments = [
            "-c", "while kill -0 \(tests) 2>/dev/null && kill -0 \(server) 2>/dev/null; do sleep 1; done; kill -9 \(server) 2>/dev/null",
        ]
        watchdog.standardInput = FileHandle.nullDevice
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        try? watchdog.run()
    }

    /// Everything the process wrote to standard error so far, then what its error log file holds.
    public var output: String {
        self.stderr.text + (self.errorLog.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "")
    }

    /// Waits until the output matches `pattern` (a regular expression); false after `timeout` seconds.
    @discardableResult
    public func waitForOutput(_ pattern: String, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if self.output.range(of: pattern, options: .regularExpression) != nil { return true }
            usleep(20_000)
        }
        return false
    }

    /// Waits for the process to exit; false after `timeout` seconds.
    public func waitForExit(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while self.process.isRunning, Date() < deadline { usleep(20_000) }
        if self.process.isRunning { return false }
        self.process.waitUntilExit()
        return true
    }
}

public struct ServerDidNotStart: Error {
    public let output: String
    public init(output: String) { self.output = output }
}

/// Runs a command to the end and returns its exit status and output (standard output and error).
public func runProcess(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String]? = nil
) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = withoutBacktracer(environment ?? ProcessInfo.processInfo.environment)
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// `curl -s --max-time 10 ARGUMENTS`'s standard output.
public func curl(_ arguments: [String]) throws -> String {
    try runProcess("/usr/bin/curl", ["-s", "--max-time", "10"] + arguments).output
}

/// The live children of `pid`, from /proc (zombies excluded), sorted.
public func childPIDs(of pid: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { child in
        guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        // After "pid (comm)": state, ppid, …
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 && fields[0] != "Z" && Int32(fields[1]) == pid
    }.sorted()
}

/// A client script of the tests (`Tests/Clients/NAME`), run with python3: its standard output,
/// or an error with its exit status and standard error.
public func runClientScript(_ name: String, _ arguments: [String]) throws -> String {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Clients").appendingPathComponent(name).path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script] + arguments
    let output = Pipe()
    let errors = PipeCollector()
    process.standardOutput = output
    process.standardError = errors.pipe
    try process.run()
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ClientScriptFailed(script: name, status: process.terminationStatus, output: printed + errors.text)
    }
    return printed
}

public struct ClientScriptFailed: Error, CustomStringConvertible {
    public let script: String
    public let status: Int32
    public let output: String
    public var description: String { "\(self.script) exited with \(self.status): \(self.output)" }
}

/// `environment` with Swift's backtracer off (unless the caller chose): a server the tests kill
/// with SIGABRT or SIGKILL (a worker past its `--timeout`) would otherwise leave a
/// `swift-backtrace` process behind holding the test's pipes open, and the test would wait on
/// them long after the server is gone.
public func withoutBacktracer(_ environment: [String: String]) -> [String: String] {
    var environment = environment
    if environment["SWIFT_BACKTRACE"] == nil { environment["SWIFT_BACKTRACE"] = "enable=no" }
    return environment
}
