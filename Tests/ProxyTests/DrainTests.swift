import Foundation
import ProcessTestSupport
import Testing

/// `--health-path` and `--drain-delay`: a reload and a rolling stop under continuous load
/// through nginx, with no failed request.
@Suite struct DrainTests {
    /// `curl --unix-socket SOCKET http://carafe/PATH`: status and body.
    static func overSocket(_ socket: String, _ path: String) -> String {
        (try? curl(["--unix-socket", socket, "-w", " %{http_code}", "http://carafe\(path)"])) ?? ""
    }

    @Test func healthAndLiveness() throws {
        let directory = try testDirectory()
        let socket = directory.appendingPathComponent("a.sock").path
        let carafe = try ServerProcess(
            builtExecutable("behind-proxy"),
            ["serve", "--bind", "unix:\(socket)", "--health-path", "/healthz", "--drain-delay", "2", "--log-level", "info"]
        )
        #expect(Self.overSocket(socket, "/healthz") == "ready\n 200")
        #expect(Self.overSocket(socket, "/healthz/live") == "alive\n 200")
        #expect(Self.overSocket(socket, "/healthz/other").hasSuffix(" 404"))
        kill(carafe.pid, SIGTERM)
        // At once not ready, but still serving, until the drain delay is over.
        #expect(eventually(timeout: 5) { Self.overSocket(socket, "/healthz") == "draining\n 503" })
        #expect(Self.overSocket(socket, "/plaintext") == "Hello, World! 200")
        #expect(Self.overSocket(socket, "/healthz/live") == "alive\n 200")
        #expect(carafe.waitForExit(timeout: 15))
        #expect(carafe.process.terminationStatus == 0)
        #expect(carafe.output.contains("draining"))
    }

    @Test func badTrustedAddressesStopServeWithTheReason() throws {
        let executable = builtExecutable("behind-proxy").path
        for extra in [[], ["--workers", "2"]] {
            let bad = try runProcess(executable, ["serve", "--bind", "127.0.0.1:0", "--forwarded-allow-ips", "10.0.0.0/99"] + extra)
            #expect(bad.status != 0)
            #expect(bad.output.contains("invalid trusted address '10.0.0.0/99': the prefix length must be 0...32"), "\(bad.output)")
            let proxy = try runProcess(
                executable,
                ["serve", "--bind", "127.0.0.1:0", "--proxy-protocol", "--proxy-allow-from", "example.com"] + extra
            )
            #expect(proxy.status != 0)
            #expect(proxy.output.contains("'example.com' is not an IPv4 or IPv6 address"), "\(proxy.output)")
        }
    }

    @Test func reloadThenDrainUnderLoadThroughNginxFailsNoRequest() throws {
        let directory = try testDirectory()
        let socketA = directory.appendingPathComponent("a.sock").path
        let socketB = directory.appendingPathComponent("b.sock").path
        let hostA = try ServerProcess(
            builtExecutable("behind-proxy"),
            [
                "serve", "--workers", "2", "--bind", "unix:\(socketA)", "--health-path", "/healthz", "--drain-delay", "3",
                "--graceful-timeout", "10", "--log-level", "info",
            ]
        )
        let hostB = try ServerProcess(builtExecutable("behind-proxy"), ["serve", "--bind", "unix:\(socketB)", "--log-level", "info"])
        let port = freePort()
        let nginx = try NginxProcess(
            http: NginxConfig.http(listen: ["127.0.0.1:\(port)"], upstreams: ["unix:\(socketA)"]),
            waitForPort: port
        )
        #expect(eventually(timeout: 10) { Self.overSocket(socketA, "/healthz") == "ready\n 200" })

        let load = LoadClient(port: port, path: "/pid", connections: 4)
        #expect(eventually(timeout: 20) { load.current.succeeded > 100 })
        let firstWorkers = Set(load.current.bodies.keys)

        // HUP: new workers take over; the sockets never close.
        kill(hostA.pid, SIGHUP)
        #expect(eventually(timeout: 30) { !Set(load.current.bodies.keys).subtracting(firstWorkers).isEmpty }, "no new worker served")
        #expect(
            eventually(timeout: 30) { Set(childPIDs(of: hostA.pid).map(String.init)).isDisjoint(with: firstWorkers) },
            "the old workers did not exit"
        )

        // TERM with a drain delay: not ready at once, serving on.
        kill(hostA.pid, SIGTERM)
        #expect(eventually(timeout: 5) { Self.overSocket(socketA, "/healthz") == "draining\n 503" })
        let atDrain = load.current.succeeded
        #expect(eventually(timeout: 2) { load.current.succeeded > atDrain + 20 }, "host A stopped serving during its drain delay")
        // The balancer saw the failing probe and takes host A out (a Kubernetes endpoints
        // update does this; here the test is the controller): nginx reloads with host B only.
        try nginx.reload(http: NginxConfig.http(listen: ["127.0.0.1:\(port)"], upstreams: ["unix:\(socketB)"]))
        #expect(hostA.waitForExit(timeout: 30), "host A did not stop")
        #expect(hostA.process.terminationStatus == 0)
        let pidB = Self.overSocket(socketB, "/pid").split(separator: " ").first.map(String.init) ?? "?"
        #expect(eventually(timeout: 10) { (load.current.bodies[pidB] ?? 0) > 50 }, "host B did not take over")

        let tally = load.stop()
        #expect(tally.failed == 0, "\(tally.errors.prefix(5))")
        #expect(tally.succeeded > 300)
        let bad = nginx.accessLog.split(separator: "\n").filter { $0.hasPrefix("502") || $0.hasPrefix("504") }
        #expect(bad.isEmpty, "\(bad.prefix(5))")
        _ = hostB
    }
}
