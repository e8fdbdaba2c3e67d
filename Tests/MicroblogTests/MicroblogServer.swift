import Foundation
import ProcessTestSupport

/// The built `microblog` executable, serving on a free port, with its SQLite file (unless a
/// `DATABASE_URL` is given) in a temporary directory of its own.
final class MicroblogServer {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("microblog-\(UUID().uuidString)")
    private(set) var process: ServerProcess!

    var port: Int { self.process.port }
    var databasePath: String { self.directory.appendingPathComponent("microblog.sqlite").path }

    init(
        databaseURL: String? = nil,
        secretKey: String? = String(repeating: "k", count: 64),
        arguments: [String] = [],
        environment: [String: String] = [:]
    ) throws {
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        try self.start(databaseURL: databaseURL, secretKey: secretKey, arguments: arguments, environment: environment)
    }

    /// Starts the server (again, after `stop()`), on the same database.
    func start(
        databaseURL: String? = nil,
        secretKey: String? = String(repeating: "k", count: 64),
        arguments: [String] = [],
        environment extra: [String: String] = [:]
    ) throws {
        var environment = ["PATH": "/usr/bin:/bin", "DATABASE_URL": databaseURL ?? "sqlite:\(self.databasePath)"].merging(extra) { _, new in
            new
        }
        environment["SECRET_KEY"] = secretKey
        environment["PASSWORD_HASH_METHOD"] = "scrypt:32768:8:1"  // debug builds: 2^17 costs about 5 s a hash
        self.process = try ServerProcess(
            builtExecutable("microblog"),
            ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"] + arguments,
            environment: environment
        )
    }

    func stop() {
        kill(self.process.pid, SIGTERM)
        _ = self.process.waitForExit(timeout: 20)
    }

    deinit {
        self.process = nil
        try? FileManager.default.removeItem(at: self.directory)
    }
}
