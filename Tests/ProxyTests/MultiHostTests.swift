import Foundation
import PostgresTestSupport
import ProcessTestSupport
import Testing

/// Carafe on several hosts: three network namespaces made by the test, joined by veth pairs on
/// private addresses that exist only inside them. `app1` and `app2` each run
/// `behind-proxy serve --workers 2`; `edge` runs nginx, the clients and, for the broadcast
/// test, PostgreSQL.
///
///     edge 10.213.1.1 ── 10.213.1.2 app1
///     edge 10.213.2.1 ── 10.213.2.2 app2
///
/// Skipped (and reported as skipped) where namespaces cannot be made: not root, no `ip`, or a
/// container without the capability.
@Suite(.serialized, .enabled(if: NetworkNamespaces.available, "needs network namespaces: root, `ip netns` (iproute2) and CAP_SYS_ADMIN"))
struct MultiHostTests {
    /// A load client run inside a namespace: `threads` keep-alive connections sending
    /// `GET /pid` for `seconds`, then printing `{"ok":…,"failed":…,"errors":[…],"bodies":{pid:count}}`.
    static let loadScript = #"""
        import http.client, json, sys, threading, time
        host, port, seconds, threads = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
        lock = threading.Lock()
        tally = {"ok": 0, "failed": 0, "errors": [], "bodies": {}}
        stop = time.time() + seconds
        def drive():
            conn = None
            while time.time() < stop:
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(host, port, timeout=10)
                    conn.request("GET", "/pid")
                    response = conn.getresponse()
                    body = response.read().decode()
                    with lock:
                        if response.status == 200:
                            tally["ok"] += 1
                            tally["bodies"][body] = tally["bodies"].get(body, 0) + 1
                        else:
                            tally["failed"] += 1
                            tally["errors"].append("status %d: %s" % (response.status, body[:80]))
                except Exception as error:
                    with lock:
                        tally["failed"] += 1
                        tally["errors"].append(repr(error))
                    conn = None
                time.sleep(0.002)
        workers = [threading.Thread(target=drive) for _ in range(threads)]
        for worker in workers: worker.start()
        for worker in workers: worker.join()
        print(json.dumps(tally))
        """#

    struct Tally: Decodable {
        let ok: Int
        let failed: Int
        let errors: [String]
        let bodies: [String: Int]
    }

    /// `edge` joined to `app1` (10.213.1.0/24) and to `app2` (10.213.2.0/24).
    static func makeHosts() throws -> NetworkNamespaces {
        let hosts = try NetworkNamespaces(["edge", "app1", "app2"])
        try hosts.link("edge", "10.213.1.1/24", "app1", "10.213.1.2/24")
        try hosts.link("edge", "10.213.2.1/24", "app2", "10.213.2.2/24")
        return hosts
    }

    /// `behind-proxy serve --workers 2` on `app1` and `app2`, each on 10.213.N.2:8000, with
    /// `environment(N)` added to its environment; returns once both have their workers serving.
    static func startAppHosts(
        _ hosts: NetworkNamespaces,
        directory: URL,
        environment: (Int) -> [String: String] = { _ in [:] }
    ) throws -> [ServerProcess] {
        var apps: [ServerProcess] = []
        for host in 1...2 {
            // A Unix socket too, so that the harness sees the master come up (it listens on
            // 10.213.N.2:8000 inside its namespace, which the test process cannot reach).
            let socket = directory.appendingPathComponent("app\(host).sock").path
            let (launcher, arguments) = hosts.command(
                in: "app\(host)",
                builtExecutable("behind-proxy").path,
                ["serve", "--workers", "2", "--bind", "unix:\(socket)", "--bind", "10.213.\(host).2:8000", "--log-level", "info"]
            )
            let merged = ProcessInfo.processInfo.environment.merging(environment(host)) { $1 }
            apps.append(try ServerProcess(launcher, arguments, environment: merged))
        }
        for app in apps {
            #expect(app.waitForOutput("worker 2 \\(pid \\d+\\) serving", timeout: 20), "\(app.output)")
        }
        return apps
    }

    @Test func killingOneHostMidLoadLosesNoIdempotentRequest() throws {
        let hosts = try Self.makeHosts()
        let directory = try testDirectory()
        let apps = try Self.startAppHosts(hosts, directory: directory)
        let port = 8080
        let nginx = try NginxProcess(
            http: NginxConfig.http(listen: ["127.0.0.1:\(port)"], upstreams: ["10.213.1.2:8000", "10.213.2.2:8000"]),
            waitForPort: port,
            namespace: (hosts, "edge")
        )
        let script = directory.appendingPathComponent("load.py")
        try Self.loadScript.write(to: script, atomically: true, encoding: .utf8)
        let (launcher, arguments) = hosts.command(in: "edge", "/usr/bin/python3", [script.path, "127.0.0.1", "\(port)", "6", "4"])
        let load = Process()
        load.executableURL = launcher
        load.arguments = arguments
        let output = PipeCollector()
        load.standardOutput = output.pipe
        load.standardError = output.pipe
        try load.run()

        // Both hosts serve; then host 1 dies at once, master and workers (a crash, a power cut).
        #expect(
            eventually(timeout: 10) {
                let served =
                    ((try? String(contentsOfFile: nginx.directory.appendingPathComponent("access.log").path, encoding: .utf8)) ?? "")
                return served.contains("10.213.1.2:8000") && served.contains("10.213.2.2:8000")
            }
        )
        let host1 = [apps[0].pid] + childPIDs(of: apps[0].pid)
        host1.forEach { kill($0, SIGKILL) }
        #expect(eventually(timeout: 15) { !load.isRunning }, "the load client did not finish")

        let json = output.text.split(separator: "\n").last.map(String.init) ?? ""
        let tally = try JSONDecoder().decode(Tally.self, from: Data(json.utf8))
        #expect(tally.failed == 0, "\(tally.errors.prefix(5))")
        #expect(tally.ok > 200)
        let host2 = Set(childPIDs(of: apps[1].pid).map(String.init))
        let servedByHost1 = tally.bodies.filter { host1.map(String.init).contains($0.key) }.values.reduce(0, +)
        let servedByHost2 = tally.bodies.filter { host2.contains($0.key) }.values.reduce(0, +)
        #expect(servedByHost1 > 0 && servedByHost2 > servedByHost1, "host 1: \(servedByHost1), host 2: \(servedByHost2)")
        let bad = nginx.accessLog.split(separator: "\n").filter { $0.hasPrefix("502") || $0.hasPrefix("504") }
        #expect(bad.isEmpty, "\(bad.prefix(5))")
        // nginx did meet the dead host: it retried those requests on host 2.
        #expect(nginx.errorLog.contains("10.213.1.2:8000"), "\(nginx.errorLog.suffix(2000))")
        _ = hosts
    }

    @Test func sseSubscribersOnEitherHostHearWhatTheOtherPublishes() throws {
        let hosts = try Self.makeHosts()
        // PostgreSQL on the edge host, reachable from both app hosts: their LISTEN/NOTIFY backplane.
        let database = try PostgresServer(
            listenAddresses: ["10.213.1.1", "10.213.2.1"],
            clientNetworks: ["10.213.0.0/16"],
            namespace: hosts.names["edge"]
        )
        try database.start()
        defer { database.destroy() }

        // Kept to the end: a ServerProcess kills its process when released.
        let apps = try Self.startAppHosts(hosts, directory: try testDirectory()) { host in
            ["DATABASE_URL": database.url(host: "10.213.\(host).1")]
        }
        let port = 8080
        let nginx = try NginxProcess(
            http: NginxConfig.http(listen: ["127.0.0.1:\(port)"], upstreams: ["10.213.1.2:8000", "10.213.2.2:8000"]),
            waitForPort: port,
            namespace: (hosts, "edge")
        )

        // Four browsers on the edge, through nginx: round robin puts two on each host.
        let subscribers = try (0..<4).map { _ in
            let (launcher, arguments) = hosts.command(
                in: "edge",
                "/usr/bin/curl",
                ["-s", "-N", "--max-time", "60", "http://127.0.0.1:\(port)/sse"]
            )
            let process = Process()
            process.executableURL = launcher
            process.arguments = arguments
            let output = PipeCollector()
            process.standardOutput = output.pipe
            try process.run()
            return (process, output)
        }
        defer { subscribers.forEach { if $0.0.isRunning { kill($0.0.processIdentifier, SIGKILL) } } }
        #expect(eventually(timeout: 10) { subscribers.allSatisfy { $0.1.text.hasPrefix(": hello") } })

        // A publish on either host reaches every subscriber on both. The first broadcasts may
        // come before each process's LISTEN is up: publish until all have one.
        for (host, address) in [("app2", "10.213.2.2"), ("app1", "10.213.1.2")] {
            var sent = 0
            let heard = eventually(timeout: 20) {
                sent += 1
                let answer = try? hosts.run(
                    in: "edge",
                    "/usr/bin/curl",
                    ["-s", "--max-time", "5", "--data-binary", "from \(host) #\(sent)", "http://\(address):8000/publish"]
                )
                #expect(answer?.output == "sent", "\(answer?.output ?? "no answer")")
                usleep(200_000)
                return subscribers.allSatisfy { $0.1.text.contains("data: from \(host) #") }
            }
            #expect(heard, "\(subscribers.map { $0.1.text })")
        }

        // Both hosts did hold subscribers (nginx logs each stream when it ends).
        subscribers.forEach { kill($0.0.processIdentifier, SIGKILL) }
        #expect(
            eventually(timeout: 10) {
                let streams = nginx.accessLog.split(separator: "\n").filter { $0.contains("GET /sse") }
                return streams.count == 4 && streams.contains { $0.contains("10.213.1.2:8000") }
                    && streams.contains { $0.contains("10.213.2.2:8000") }
            },
            "\(nginx.accessLog)"
        )
        _ = (hosts, apps)
    }
}
