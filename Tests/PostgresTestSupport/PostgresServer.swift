import Foundation
import ProcessTestSupport

/// A throwaway PostgreSQL server for tests: `initdb` into a temporary directory, `pg_ctl`
/// start on a free port of 127.0.0.1 (and a Unix socket in that directory), and everything
/// removed at the end. PostgreSQL refuses to run as root, so as root (CI) it runs as the
/// `postgres` user if there is one, else as `nobody`, owning the directory.
///
///     let server = try PostgresServer.shared          // one per test process
///     let db = try Database.open(url: server.url)
public final class PostgresServer: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    public let user = "carafe"
    public let password = "secret"
    private let binaries: URL
    private let runAs: String?

    /// One server for the whole test process, started on first use and stopped at exit.
    public static var shared: PostgresServer {
        get throws { try sharedServer.get() }
    }

    private static let sharedServer: Result<PostgresServer, any Error> = Result {
        let server = try PostgresServer()
        try server.start()
        atexit { PostgresServer.stopShared() }
        return server
    }

    private static func stopShared() {
        if case .success(let server) = sharedServer { server.destroy() }
    }

    /// `postgres://carafe:secret@127.0.0.1:PORT/DATABASE`
    public func url(database: String = "postgres") -> String {
        "postgres://\(self.user):\(self.password)@127.0.0.1:\(self.port)/\(database)"
    }

    public var url: String { self.url() }

    /// Runs `initdb`; `start()` starts the server.
    public init() throws {
        guard let binaries = Self.findBinaries() else {
            throw PostgresServerError("PostgreSQL is not installed: no initdb in /usr/lib/postgresql/*/bin or on PATH (apt-get install postgresql)")
        }
        self.binaries = binaries
        self.port = try Self.freePort()
        self.directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("carafe-pg-\(getpid())-\(self.port)")
        try? FileManager.default.removeItem(at: self.directory)
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        if geteuid() == 0 {
            let user = getpwnam("postgres") != nil ? "postgres" : "nobody"
            self.runAs = user
            _ = try Self.spawn("/bin/chown", ["-R", user, self.directory.path])
        } else {
            self.runAs = nil
        }
        try self.watchTestProcess()
        let passwordFile = self.directory.appendingPathComponent("password")
        try self.password.write(to: passwordFile, atomically: true, encoding: .utf8)
        if let runAs { _ = try Self.spawn("/bin/chown", [runAs, passwordFile.path]) }
        try self.run("initdb", [
            "-D", self.dataDirectory, "-U", self.user, "--pwfile", passwordFile.path,
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync",
        ])
    }

    private var dataDirectory: String { self.directory.appendingPathComponent("data").path }
    private var logFile: String { self.directory.appendingPathComponent("server.log").path }

    /// Starts the server and waits until it accepts connections.
    public func start() throws {
        let options = "-p \(self.port) -k \(self.directory.path) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        try self.run("pg_ctl", ["-D", self.dataDirectory, "-l", self.logFile, "-o", options, "-w", "-t", "60", "start"])
    }

    /// Stops the server (fast: connections are closed at once).
    public func stop() throws {
        try self.run("pg_ctl", ["-D", self.dataDirectory, "-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// Stops and starts the server: every connection to it breaks.
    public func restart() throws {
        let options = "-p \(self.port) -k \(self.directory.path) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        try self.run("pg_ctl", ["-D", self.dataDirectory, "-l", self.logFile, "-o", options, "-m", "fast", "-w", "-t", "60", "restart"])
    }

    /// The server's log so far.
    public var log: String { (try? String(contentsOfFile: self.logFile, encoding: .utf8)) ?? "" }

    /// Leaves a watchdog behind (a shell, detached) that stops the server and removes its
    /// directory once this process is gone, should it crash or be killed before its `atexit`.
    func watchTestProcess() throws {
        let directory = self.directory.path
        let script = """
            ( while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done
              pid=$(head -n 1 '\(directory)/data/postmaster.pid' 2>/dev/null) && kill -QUIT "$pid" 2>/dev/null
              sleep 3; rm -rf '\(directory)' ) </dev/null >/dev/null 2>&1 &
            """
        _ = try Self.spawn("/bin/sh", ["-c", script])
    }

    /// Stops the server at once and removes its directory. Signals the postmaster itself
    /// (SIGQUIT: immediate shutdown) rather than running pg_ctl, since this runs at exit, when
    /// waiting for a child process no longer works.
    public func destroy() {
        let pidFile = self.dataDirectory + "/postmaster.pid"
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = text.split(separator: "\n").first.flatMap({ pid_t($0) })
        {
            kill(pid, SIGQUIT)
            for _ in 0..<100 where kill(pid, 0) == 0 { usleep(50_000) }
        }
        try? FileManager.default.removeItem(at: self.directory)
    }

    private func run(_ tool: String, _ arguments: [String]) throws {
        let path = self.binaries.appendingPathComponent(tool).path
        let result = try self.runAs.map { try Self.spawn("/usr/sbin/runuser", ["-u", $0, "--", path] + arguments) } ?? Self.spawn(path, arguments)
        guard result.status == 0 else {
            throw PostgresServerError("\(tool) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.output)\n\(self.log)")
        }
    }

    /// Runs a command to its end with posix_spawn and waitpid, its output going to a file.
    /// (Foundation's `Process` sometimes misses the exit of `runuser`, and waits forever.)
    static func spawn(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let outputPath = NSTemporaryDirectory() + "carafe-pg-output-\(getpid())-\(UUID().uuidString)"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else { throw PostgresServerError("cannot run \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output)
    }

    /// The directory of initdb and pg_ctl: the newest /usr/lib/postgresql/N/bin, else PATH's.
    static func findBinaries() -> URL? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return URL(fileURLWithPath: "\(root)/\(version)/bin")
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let initdb = URL(fileURLWithPath: String(directory)).appendingPathComponent("initdb")
            if FileManager.default.isExecutableFile(atPath: initdb.path) {
                return initdb.resolvingSymlinksInPath().deletingLastPathComponent()
            }
        }
        return nil
    }

    /// A port of 127.0.0.1 that nothing listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw PostgresServerError("no free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public struct PostgresServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
