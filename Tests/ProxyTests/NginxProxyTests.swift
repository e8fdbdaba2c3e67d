import Foundation
import ProcessTestSupport
import Testing

/// `behind-proxy` behind a real nginx with docs/nginx.md's configuration: Carafe on a Unix
/// socket (as in production) or on TCP, nginx on a free port, curl as the client.
@Suite struct NginxProxyTests {
    /// Carafe on a Unix socket behind nginx, with a directory of static files.
    final class Deployment: @unchecked Sendable {
        let directory: URL
        let carafe: ServerProcess
        let nginx: NginxProcess
        let port = freePort()

        init(carafeArguments: [String] = []) throws {
            self.directory = try testDirectory()
            let socket = self.directory.appendingPathComponent("carafe.sock").path
            let files = self.directory.appendingPathComponent("public")
            try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
            try Data((0..<100_000).map { UInt8($0 % 251) }).write(to: files.appendingPathComponent("data.bin"))
            let accessLog = self.directory.appendingPathComponent("access.log").path
            self.carafe = try ServerProcess(
                builtExecutable("behind-proxy"),
                ["serve", "--bind", "unix:\(socket)", "--log-level", "info", "--access-logfile", accessLog] + carafeArguments,
                environment: ["STATIC_DIR": files.path]
            )
            self.nginx = try NginxProcess(
                http: NginxConfig.http(listen: ["127.0.0.1:\(self.port)"], upstreams: ["unix:\(socket)"], staticDirectory: files.path),
                waitForPort: self.port
            )
        }

        deinit { try? FileManager.default.removeItem(at: self.directory) }

        var url: String { "http://127.0.0.1:\(self.port)" }
        var accessLogPath: String { self.directory.appendingPathComponent("access.log").path }
        var accessLog: String { (try? String(contentsOfFile: self.accessLogPath, encoding: .utf8)) ?? "" }
    }

    @Test func getAndPostPassThrough() throws {
        let deployment = try Deployment()
        #expect(try curl(["\(deployment.url)/plaintext"]) == "Hello, World!")
        let body = String(repeating: "0123456789", count: 50_000)  // 500 kB, under client_max_body_size
        let sum = body.utf8.reduce(0) { ($0 &+ Int($1)) & 0xFFFF_FFFF }
        let file = deployment.directory.appendingPathComponent("body.txt")
        try body.write(to: file, atomically: true, encoding: .utf8)
        #expect(try curl(["--data-binary", "@\(file.path)", "\(deployment.url)/echo"]) == "500000 \(sum)")
        // nginx's limit answers before Carafe sees the body.
        try String(repeating: "x", count: 2 << 20).write(to: file, atomically: true, encoding: .utf8)
        #expect(try curl(["-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@\(file.path)", "\(deployment.url)/echo"]) == "413")
    }

    @Test func aChunkedUploadStreamsThroughNginx() throws {
        let deployment = try Deployment()
        let file = deployment.directory.appendingPathComponent("upload.bin")
        try Data(repeating: 7, count: 5 << 20).write(to: file)
        let answer = try curl(["-H", "Transfer-Encoding: chunked", "--data-binary", "@\(file.path)", "\(deployment.url)/upload"])
        #expect(answer == String(5 << 20))
    }

    @Test func nginxReusesItsUpstreamConnections() throws {
        // Carafe on TCP this time, so that each upstream connection shows as a peer port.
        let carafe = try ServerProcess(builtExecutable("behind-proxy"), ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"])
        let port = freePort()
        let nginx = try NginxProcess(
            http: NginxConfig.http(listen: ["127.0.0.1:\(port)"], upstreams: ["127.0.0.1:\(carafe.port)"]),
            waitForPort: port
        )
        var peerPorts = Set<Int>()
        for _ in 0..<20 {
            let json = try curl(["http://127.0.0.1:\(port)/client"])
            let client = try JSONDecoder().decode(ClientView.self, from: Data(json.utf8))
            peerPorts.insert(client.peerPort)
        }
        // 20 requests from 20 client connections; one nginx worker takes the one idle upstream
        // connection each time (without `keepalive` it would be 20 connections).
        #expect(peerPorts.count <= 2, "upstream connections: \(peerPorts.sorted())")
        _ = nginx
    }

    @Test func aWebSocketEchoesThroughNginx() throws {
        let deployment = try Deployment()
        // The interoperability client of the streaming tests: text, binary, fragments, ping,
        // a 1 MiB message, a close code, 1009 past the limit, 426 for a plain GET.
        let (result, printed) = try WebSocketInterop.run("ws://127.0.0.1:\(deployment.port)/ws")
        #expect(result.text == "héllo" && result.binary && result.fragmented == "fragmented" && result.pong, "\(printed)")
        #expect(result.atLimit == 1 << 20)
        #expect(result.closeCode == 4001)
        #expect(result.tooBig == 1009, "\(printed)")
        #expect(result.plainGet == 426)
        #expect(deployment.accessLog.contains("\"GET /ws HTTP/1.1\" 101"), "\(deployment.accessLog)")
    }

    @Test func serverSentEventsArriveOneByOne() throws {
        let deployment = try Deployment()
        let subscriber = try CurlStream(["-N", "-D", "-", "\(deployment.url)/sse"])
        // ": hello" is 8 bytes: it comes through only if nginx does not buffer the response.
        #expect(eventually(timeout: 10) { subscriber.text.contains(": hello\n\n") }, "\(subscriber.text)")
        #expect(subscriber.text.lowercased().contains("cache-control: no-cache"))
        for event in ["one", "two", "three"] {
            // Each event is published only after the previous one has arrived.
            #expect(eventually(timeout: 10) { (try? curl(["--data-binary", event, "\(deployment.url)/publish"])) == "1" })
            #expect(eventually(timeout: 10) { subscriber.text.contains("data: \(event)\n\n") }, "\(subscriber.text)")
        }
    }

    @Test func staticFilesWithRangeFromCarafeAndOffloadedToNginx() throws {
        let deployment = try Deployment()
        let expected = (10...19).map { String(UInt8($0 % 251)) }.joined(separator: ",")
        for path in ["/static/data.bin", "/offloaded/data.bin"] {
            let output = deployment.directory.appendingPathComponent("range.out").path
            let status = try curl(["-r", "10-19", "-o", output, "-w", "%{http_code}", "\(deployment.url)\(path)"])
            #expect(status == "206", "\(path)")
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: output))) ?? Data()
            #expect(bytes.map { String($0) }.joined(separator: ",") == expected, "\(path)")
            let whole = try curl(["-o", "/dev/null", "-w", "%{http_code} %{size_download}", "\(deployment.url)\(path)"])
            #expect(whole == "200 100000", "\(path)")
        }
        // Offloaded: Carafe answered with an empty body and nginx sent the file.
        #expect(deployment.accessLog.contains("\"GET /offloaded/data.bin HTTP/1.1\" 200 -"), "\(deployment.accessLog)")
        // Carafe still decides what may be sent: a path out of the directory is its 404.
        let escape = try curl(["-o", "/dev/null", "-w", "%{http_code}", "--path-as-is", "\(deployment.url)/offloaded/../../etc/passwd"])
        #expect(escape == "404" || escape == "400")
        // The internal location cannot be asked for directly.
        #expect(try curl(["-o", "/dev/null", "-w", "%{http_code}", "\(deployment.url)/_static/data.bin"]) == "404")
    }

    /// The four X-Forwarded-* headers docs/nginx.md sets, and the prefix its /app/ location sets.
    static let withPrefix = [
        "--forwarded-headers", "x-forwarded-for,x-forwarded-proto,x-forwarded-host,x-forwarded-port,x-forwarded-prefix",
    ]

    @Test func theAppSeesTheRealClientAndBuildsExternalURLs() throws {
        let deployment = try Deployment(carafeArguments: Self.withPrefix)
        let client = try ClientView.get("\(deployment.url)/client", [])
        // The socket's peer is nginx on the Unix socket (always trusted); the client is what
        // nginx forwarded.
        #expect(client.remote == "127.0.0.1")
        #expect(client.peer == "unix")
        #expect(client.url == "http://127.0.0.1:\(deployment.port)/users/7")
        let mounted = try ClientView.get("\(deployment.url)/app/client", [])
        #expect(mounted.scriptRoot == "/app")
        #expect(mounted.url == "http://127.0.0.1:\(deployment.port)/app/users/7")
        #expect(try curl(["\(deployment.url)/app/users/7"]) == "user 7")
    }

    /// A client's own `Forwarded` and `X-Forwarded-Prefix` do not win: Carafe does not read
    /// them by default, and docs/nginx.md's configuration clears them even when it does.
    @Test func aClientsForwardedAndPrefixHeadersDoNotWin() throws {
        let spoof = [
            "-H", "Forwarded: for=1.2.3.4;proto=https;host=evil.example", "-H", "X-Forwarded-Prefix: /evil",
            "-H", "X-Real-IP: 1.2.3.4",
        ]
        let everything = [
            "--forwarded-headers", "x-forwarded-for,x-forwarded-proto,x-forwarded-host,x-forwarded-port,x-forwarded-prefix,forwarded",
        ]
        for arguments in [[], everything] {
            let deployment = try Deployment(carafeArguments: arguments)
            let client = try ClientView.get("\(deployment.url)/client", spoof)
            #expect(client.remote == "127.0.0.1", "\(arguments)")
            #expect(client.scheme == "http", "\(arguments)")
            #expect(client.host == "127.0.0.1:\(deployment.port)", "\(arguments)")
            #expect(client.scriptRoot == "", "\(arguments)")
            #expect(client.url == "http://127.0.0.1:\(deployment.port)/users/7", "\(arguments)")
            if arguments == everything {
                // Under /app/ nginx's own prefix replaces the client's.
                let mounted = try ClientView.get("\(deployment.url)/app/client", spoof)
                #expect(mounted.scriptRoot == "/app")
                #expect(mounted.url == "http://127.0.0.1:\(deployment.port)/app/users/7")
            }
        }
    }

    @Test func aClientOtherThanTheProxyCannotSpoofItsAddress() throws {
        // Only 127.0.0.1 is a trusted proxy; the client comes from ::1, both through nginx
        // and straight to Carafe.
        let directory = try testDirectory()
        let accessLog = directory.appendingPathComponent("access.log").path
        let carafe = try ServerProcess(
            builtExecutable("behind-proxy"),
            [
                "serve", "--bind", "127.0.0.1:0", "--bind", "[::1]:0", "--forwarded-allow-ips", "127.0.0.1", "--log-level", "info",
                "--access-logfile", accessLog,
            ]
        )
        guard let v6Line = carafe.output.range(of: #"serving on http://\[::1\]:\d+"#, options: .regularExpression) else {
            Issue.record("no IPv6 listener: \(carafe.output)")
            return
        }
        let v6Port = carafe.output[v6Line].split(separator: ":").last.map(String.init) ?? ""
        let port = freePort()
        let nginx = try NginxProcess(
            http: NginxConfig.http(listen: ["127.0.0.1:\(port)", "[::1]:\(port)"], upstreams: ["127.0.0.1:\(carafe.port)"]),
            waitForPort: port
        )
        // Through nginx: the app sees ::1, the real client, though the socket's peer is nginx.
        let proxied = try ClientView.get("http://[::1]:\(port)/client", ["-H", "X-Forwarded-For: 1.2.3.4", "-A", "via-nginx"])
        #expect(proxied.remote == "::1")
        #expect(proxied.peer == "127.0.0.1")
        // Straight to Carafe from ::1 (not trusted): the headers are ignored.
        let direct = try ClientView.get(
            "http://[::1]:\(v6Port)/client",
            [
                "-H", "X-Forwarded-For: 1.2.3.4", "-H", "X-Forwarded-Proto: https", "-H", "X-Forwarded-Host: evil.example", "-H",
                "X-Forwarded-Prefix: /x", "-A", "direct",
            ]
        )
        #expect(direct.remote == "::1")
        #expect(direct.scheme == "http")
        #expect(direct.url == "http://[::1]:\(v6Port)/users/7")
        #expect(direct.scriptRoot == "")
        // The access log shows the real client for both.
        #expect(
            eventually(timeout: 5) {
                let log = (try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? ""
                return log.contains("::1 - - ") && log.contains("\"via-nginx\"") && log.contains("\"direct\"") && !log.contains("1.2.3.4")
            }
        )
        _ = nginx
    }
}

/// What `/client` answers.
struct ClientView: Decodable {
    let remote: String
    let peer: String
    let peerPort: Int
    let scheme: String
    let host: String
    let scriptRoot: String
    let url: String
    let pid: Int32

    static func get(_ url: String, _ arguments: [String]) throws -> ClientView {
        let json = try curl(arguments + [url])
        do {
            return try JSONDecoder().decode(ClientView.self, from: Data(json.utf8))
        } catch {
            throw NginxError("/client answered \(json.debugDescription)")
        }
    }
}

/// `curl ARGUMENTS` in the background (at most 30 s), its output collected as it arrives.
final class CurlStream: @unchecked Sendable {
    let process = Process()
    private let output = PipeCollector()

    init(_ arguments: [String]) throws {
        self.process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        self.process.arguments = ["-s", "--max-time", "30"] + arguments
        self.process.standardOutput = self.output.pipe
        try self.process.run()
    }

    var text: String { self.output.text }

    deinit { if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) } }
}
