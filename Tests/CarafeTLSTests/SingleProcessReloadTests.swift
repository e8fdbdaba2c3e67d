import Foundation
import ProcessTestSupport
import Testing

extension TLSTests {
    /// The serial number of the certificate served on `port`, as `openssl x509 -serial` prints it.
    static func servedSerial(_ port: Int) throws -> String {
        let (_, output) = try runProcess(
            "/bin/sh",
            [
                "-c",
                "openssl s_client -connect 127.0.0.1:\(port) -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -serial",
            ]
        )
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Renames `source` over `target` (atomically, as a renewal tool does).
    static func move(_ source: String, over target: String) {
        #expect(rename(source, target) == 0, "rename \(source) \(target): errno \(errno)")
    }

    /// Moves `from`'s certificate and key over `to`'s.
    static func install(_ from: Certificate, over to: Certificate) {
        Self.move(from.cert, over: to.cert)
        Self.move(from.key, over: to.key)
    }

    @Test func sighupInASingleProcessServesTheRenewedCertificateToNewConnectionsAndKeepsTheOldOneIfTheNewIsBroken() async throws {
        let first = try Certificate(commonName: "first")
        let server = try Self.startServer(["--bind", "127.0.0.1:0", "--certfile", first.cert, "--keyfile", first.key])
        let port = server.port
        let before = try Self.servedSerial(port)
        #expect(before.hasPrefix("serial="), "\(before)")
        let tally = LoopingCurl(arguments: ["-k", "-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:\(port)/plaintext"])
        try await Task.sleep(for: .milliseconds(500))

        // A key that belongs to another certificate: logged, and the old pair stays in use.
        let stranger = try Certificate(commonName: "stranger", in: first.directory, name: "stranger")
        Self.move(stranger.key, over: first.key)
        kill(server.pid, SIGHUP)
        #expect(
            server.waitForOutput(
                "received HUP: TLS: key file .*does not match the certificate.*still serving the certificate loaded before",
                timeout: 10
            ),
            "\(server.output)"
        )
        #expect(try Self.servedSerial(port) == before)

        // The renewed pair: new connections get it.
        let renewed = try Certificate(commonName: "second", in: first.directory, name: "renewed")
        Self.install(renewed, over: first)
        kill(server.pid, SIGHUP)
        #expect(server.waitForOutput("TLS: reloaded .*serving serial .* to new connections", timeout: 10), "\(server.output)")
        let after = try Self.servedSerial(port)
        #expect(after.hasPrefix("serial=") && after != before, "\(before) then \(after)")
        try await Task.sleep(for: .milliseconds(700))
        let (succeeded, failed) = tally.stop()
        #expect(succeeded > 10)
        #expect(failed == 0, "\(failed) requests failed across the reloads")
        #expect(server.process.isRunning)
    }
}
