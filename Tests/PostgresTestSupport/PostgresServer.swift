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
    /// The addresses it listens on (`listen_addresses`).
    public let listenAddresses: [String]
    /// The network namespace it runs in (`ip netns exec`), or nil for this one.
    private let namespace: String?
    /// With `ssl`: the server's certificate (self-signed, for localhost and 127.0.0.1), the
    /// root a client verifies it with (`sslrootcert=`).
    public private(set) var certificatePath: String?

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

    /// `postgres://carafe:secret@HOST:PORT/DATABASE`, by default on its first listen address.
    public func url(database: String = "postgres", host: String? = nil) -> String {
        "postgres://\(self.user):\(self.password)@\(host ?? self.listenAddresses[0]):\(self.port)/\(database)"
    }

    public var url: String { self.url() }

    /// Runs `initdb`; `start()` starts the server. By default it listens on 127.0.0.1 only; a
    /// test that makes network namespaces can run it in one (`namespace`, the full name) on
    /// that namespace's addresses, accepting password logins from `clientNetworks` (CIDR).
    /// With `ssl`, it serves TLS too (`ssl = on`) with a certificate made by openssl.
    public init(
        listenAddresses: [String] = ["127.0.0.1"],
        clientNetworks: [String] = [],
        namespace: String? = nil,
        ssl: Bool = false
    ) throws {
        self.listenAddresses = listenAddresses
        self.namespace = namespace
        guard let binaries = Self.findBinaries() else {
            throw PostgresServerError(
                "PostgreSQL is not installed: no initdb in /usr/lib/postgresql/*/bin or on PATH (apt-get install postgresql)"
            )
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
        try self.run(
            "initdb",
            [
                "-D", self.dataDirectory, "-U", self.user, "--pwfile", passwordFile.path,
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync",
            ]
        )
        if ssl {
            let certificate = self.directory.appendingPathComponent("server.crt").path
            let key = self.directory.appendingPathComponent("server.key").path
            let made = try Self.spawn(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "30",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                ]
            )
            guard made.status == 0 else { throw PostgresServerError("openssl could not make a certificate: \(made.output)") }
            chmod(key, 0o600)
            if let runAs { _ = try Self.spawn("/bin/chown", [runAs, certificate, key]) }
            self.certificatePath = certificate
        }
        if !clientNetworks.isEmpty {
            let hba = try FileHandle(forWritingTo: URL(fileURLWithPath: self.dataDirectory + "/pg_hba.conf"))
            hba.seekToEndOfFile()
            hba.write(Data(clientNetworks.map { "host all all \($0) scram-sha-256\n" }.joined().utf8))
            try hba.close()
        }
    }

    private var serverOptions: String {
        "-p \(self.port) -k \(self.directory.path) -c listen_addresses=\(self.listenAddresses.joined(separator: ",")) -c fsync=off -c max_connections=200"
            + (self.certificatePath.map { " -c ssl=on -c ssl_cert_file=\($0) -c ssl_key_file=\(self.directory.path)/server.key" } ?? "")
    }

    private var dataDirectory: String { self.directory.appendingPathComponent("data").path }
    private var logFile: String { self.directory.appendingPathComponent("server.log").path }

    /// Starts the server and waits until it accepts connections.
    public func start() throws {
        try self.run("pg_ctl", ["-D", self.dataDirectory, "-l", self.logFile, "-o", self.serverOptions, "-w", "-t", "60", "start"])
    }

    /// Stops the server (fast: connections are closed at once).
    public func stop() throws {
        try self.run("pg_ctl", ["-D", self.dataDirectory, "-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// Stops and starts the server: every connection to it breaks.
    public func restart() throws {
        try self.run(
            "pg_ctl",
            ["-D", self.dataDirectory, "-l", self.logFile, "-o", self.serverOptions, "-m", "fast", "-w", "-t", "60", "restart"]
        )
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
        var command = [self.binaries.appendingPathComponent(tool).path] + arguments
        if let runAs = self.runAs { command = ["/usr/sbin/runuser", "-u", runAs, "--"] + command }
        if let namespace = self.namespace, tool != "initdb" { command = [NetworkNamespaces.ipPath, "netns", "exec", namespace] + command }
        let result = try Self.spawn(command[0], Array(command.dropFirst()))
        guard result.status == 0 else {
            throw PostgresServerError(
                "\(tool) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.output)\n\(self.log)"
            )
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
