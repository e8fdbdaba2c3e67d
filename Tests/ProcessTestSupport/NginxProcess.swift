import Foundation

/// A real nginx for tests: started in the foreground (`daemon off`) from a configuration
/// generated into a temporary directory of its own, with its logs, pid file and temporary
/// files there, listening on free ports.
///
/// The caller writes the `http { … }` and `stream { … }` blocks' contents; the harness adds
/// everything around them (the stream module is loaded if a `stream` block is given and nginx
/// has it as a dynamic module). Under root the workers run as root too, so that they can reach
/// Unix sockets and files the test made.
public final class NginxProcess: @unchecked Sendable {
    public let process = Process()
    /// The directory holding `nginx.conf`, `error.log`, `access.log` and nginx's temporary files.
    public let directory: URL
    private let output = PipeCollector()

    /// The nginx executable: `$NGINX`, else the first of /usr/sbin/nginx, /usr/local/sbin/nginx,
    /// /usr/local/nginx/sbin/nginx, /usr/bin/nginx that exists.
    public static var executable: String? {
        if let path = ProcessInfo.processInfo.environment["NGINX"] { return path }
        return ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx", "/usr/bin/nginx"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The dynamic stream module, if nginx has one (Debian's libnginx-mod-stream).
    static var streamModule: String? {
        [
            "/usr/lib/nginx/modules/ngx_stream_module.so", "/usr/lib64/nginx/modules/ngx_stream_module.so",
            "/usr/local/nginx/modules/ngx_stream_module.so",
        ]
        .first { FileManager.default.fileExists(atPath: $0) }
    }

    /// Starts nginx with `http` (and, if given, `stream`) as the contents of those blocks, and
    /// waits until it accepts on `waitForPort`. In a network namespace (`namespace`: the
    /// namespaces and the short name of one), it waits until nginx has started its workers.
    public init(
        http: String,
        stream: String? = nil,
        waitForPort port: Int,
        workerProcesses: Int = 1,
        namespace: (NetworkNamespaces, String)? = nil
    ) throws {
        guard let executable = Self.executable else {
            throw NginxError("nginx is not installed (apt-get install nginx-light; .ci/run does)")
        }
        self.directory = try makeTemporaryDirectory("carafe-nginx")
        try self.writeConfiguration(http: http, stream: stream, workerProcesses: workerProcesses)
        let arguments = ["-p", self.directory.path + "/", "-c", self.configurationPath, "-e", self.errorLogPath]
        if let (namespaces, name) = namespace {
            (self.process.executableURL, self.process.arguments) = namespaces.command(in: name, executable, arguments)
        } else {
            self.process.executableURL = URL(fileURLWithPath: executable)
            self.process.arguments = arguments
        }
        self.process.standardOutput = self.output.pipe
        self.process.standardError = self.output.pipe
        try self.process.run()
        let started = eventually(timeout: 10) {
            !self.process.isRunning || (namespace == nil ? canConnect(port: port) : self.errorLog.contains("start worker process"))
        }
        guard started, self.process.isRunning else {
            throw NginxError("nginx did not start: \(self.output.text) \(self.errorLog)")
        }
    }

    deinit {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGQUIT)
            if !eventually(timeout: 5, { !self.process.isRunning }) { kill(self.process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: self.directory)
    }

    public var configurationPath: String { self.directory.appendingPathComponent("nginx.conf").path }
    public var errorLogPath: String { self.directory.appendingPathComponent("error.log").path }

    /// What nginx logged so far.
    public var errorLog: String { (try? String(contentsOfFile: self.errorLogPath, encoding: .utf8)) ?? "" }
    /// nginx's access log: one line per request, `$status $upstream_addr $upstream_status $request`.
    public var accessLog: String {
        (try? String(contentsOfFile: self.directory.appendingPathComponent("access.log").path, encoding: .utf8)) ?? ""
    }

    /// Writes a new configuration and reloads it (HUP): nginx starts new workers with it and
    /// lets the old ones finish their requests. Waits until nginx logged the reload.
    public func reload(http: String, stream: String? = nil) throws {
        try self.writeConfiguration(http: http, stream: stream, workerProcesses: 1)
        let before = self.errorLog.components(separatedBy: "start worker process").count
        kill(self.process.processIdentifier, SIGHUP)
        guard eventually(timeout: 10, { self.errorLog.components(separatedBy: "start worker process").count > before }) else {
            throw NginxError("nginx did not reload: \(self.errorLog)")
        }
    }

    private func writeConfiguration(http: String, stream: String?, workerProcesses: Int) throws {
        let dir = self.directory.path
        var text = ""
        if stream != nil, let module = Self.streamModule { text += "load_module \(module);\n" }
        if getuid() == 0 { text += "user root root;\n" }
        text += """
            daemon off;
            master_process on;
            worker_processes \(workerProcesses);
            pid \(dir)/nginx.pid;
            error_log \(dir)/error.log info;
            events { worker_connections 4096; }
            http {
                log_format probe '$status $upstream_addr $upstream_status "$request"';
                access_log \(dir)/access.log probe;
                client_body_temp_path \(dir)/client_body;
                proxy_temp_path \(dir)/proxy;
                fastcgi_temp_path \(dir)/fastcgi;
                uwsgi_temp_path \(dir)/uwsgi;
                scgi_temp_path \(dir)/scgi;
            \(http)
            }

            """
        if let stream { text += "stream {\n\(stream)\n}\n" }
        try text.write(toFile: self.configurationPath, atomically: true, encoding: .utf8)
    }
}

public struct NginxError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A TCP port that was free a moment ago on 127.0.0.1 (bound to port 0, then closed).
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    return bindToFreeLoopbackPort(fd) ?? 0
}

/// A socket on a free port of 127.0.0.1 that listens but never accepts: TCP connects (into the
/// kernel's backlog) and then nothing answers, as a wedged server. Close `fd` when done.
public func listeningSocketThatNeverAccepts(backlog: Int32 = 8) -> (fd: Int32, port: Int)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard let port = bindToFreeLoopbackPort(fd), listen(fd, backlog) == 0 else {
        close(fd)
        return nil
    }
    return (fd, port)
}

/// Binds `fd` to port 0 of 127.0.0.1; the port the kernel chose, or nil.
private func bindToFreeLoopbackPort(_ fd: Int32) -> Int? {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
public func canConnect(port: Int) -> Bool {
    let fd = connectTCP(port: port)
    guard fd >= 0 else { return false }
    close(fd)
    return true
}

/// A new, empty directory under the temporary directory, readable by every user (nginx's and
/// PostgreSQL's workers may run as another user).
public func makeTemporaryDirectory(_ prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(getpid())-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    return url
}
