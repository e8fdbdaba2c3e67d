import CarafeCore
import CarafeHTTP2
import Foundation
import ProcessTestSupport
import Testing

/// `serve --http2-*`: the limits a client is told in SETTINGS follow the flags (and
/// `CARAFE_HTTP2_*`), and are held to, checked with Python's `h2` sending hand-made frames past
/// each one; out-of-range values stop the start naming the flag.
@Suite(.serialized) struct HTTP2LimitFlagTests {
    static func startServer(_ arguments: [String], environment: [String: String] = [:]) throws -> ServerProcess {
        try ServerProcess(
            TLSTests.executable,
            ["serve", "--log-level", "info", "--bind", "127.0.0.1:0", "--h2c"] + arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        )
    }

    @Test func theDefaultsAreDocumentedOnesAndFlagsOverrideThemOneByOne() throws {
        let defaults = try HTTP2Settings().applying(HTTP2LimitOptions())
        #expect(defaults == HTTP2Settings())
        #expect(defaults.maxConcurrentStreams == 100)
        #expect(defaults.maxHeaderListSize == 16384)
        #expect(defaults.windowSize == 65535)
        #expect(defaults.idleTimeout == .seconds(60))
        #expect(defaults.maxResetStreams == 200)
        let set = try HTTP2Settings(maxConcurrentStreams: 50).applying(
            HTTP2LimitOptions(maxHeaderListSize: 4096, initialWindowSize: 1 << 20, idleTimeout: 0, maxResets: 20)
        )
        #expect(set.maxConcurrentStreams == 50)  // from code: no flag given
        #expect(set.maxHeaderListSize == 4096)
        #expect(set.windowSize == 1 << 20)
        #expect(set.idleTimeout == .zero)
        #expect(set.maxResetStreams == 20)
    }

    @Test func outOfRangeValuesAreRefusedNamingTheFlagAndTheRange() throws {
        let cases: [(HTTP2LimitOptions, String)] = [
            (
                HTTP2LimitOptions(maxConcurrentStreams: 0),
                "--http2-max-concurrent-streams 0 is out of range: streams open at once must be 1...2147483647"
            ),
            (
                HTTP2LimitOptions(maxHeaderListSize: 10),
                "--http2-max-header-list-size 10 is out of range: the header list's bytes must be 1024...2147483647"
            ),
            (
                HTTP2LimitOptions(initialWindowSize: 1 << 31),
                "--http2-initial-window-size 2147483648 is out of range: the window's bytes must be 1024...2147483647"
            ),
            (HTTP2LimitOptions(idleTimeout: -1), "--http2-idle-timeout -1 is out of range"),
            (HTTP2LimitOptions(maxResets: 0), "--http2-max-resets 0 is out of range"),
        ]
        for (options, message) in cases {
            #expect { try HTTP2Settings().applying(options) } throws: { "\($0)".contains(message) }
        }
        // From the command line: the start stops with the message.
        let (status, output) = try runProcess(
            TLSTests.executable.path,
            ["serve", "--bind", "127.0.0.1:0", "--h2c", "--http2-initial-window-size", "99"]
        )
        #expect(status != 0)
        #expect(
            output.contains("--http2-initial-window-size 99 is out of range: the window's bytes must be 1024...2147483647"),
            "\(output)"
        )
    }

    @Test func theAdvertisedSettingsFollowTheFlagsAndTheEnvironment() throws {
        let server = try Self.startServer(
            ["--http2-max-concurrent-streams", "7", "--http2-max-header-list-size", "4096"],
            environment: ["CARAFE_HTTP2_INITIAL_WINDOW_SIZE": "1048576"]
        )
        let settings = try TLSTests.probe("settings", port: server.port, tls: false, cafile: "")
        #expect(settings["max_concurrent_streams"] as? Int == 7)
        #expect(settings["max_header_list_size"] as? Int == 4096)
        #expect(settings["initial_window_size"] as? Int == 1_048_576)
        // And over TLS (ALPN h2).
        let certificate = try TLSTests.Certificate()
        let tls = try ServerProcess(
            TLSTests.executable,
            [
                "serve", "--bind", "127.0.0.1:0", "--certfile", certificate.cert, "--keyfile", certificate.key,
                "--http2-max-concurrent-streams", "9",
            ]
        )
        #expect(try TLSTests.probe("settings", port: tls.port, tls: true, cafile: certificate.cert)["max_concurrent_streams"] as? Int == 9)
    }

    @Test func streamsPastTheAdvertisedMaximumEndTheConnection() throws {
        let server = try Self.startServer(["--http2-max-concurrent-streams", "3"])
        let within = try TLSTests.probe("streams", port: server.port, tls: false, cafile: "", 3)
        #expect(within["ok"] as? Int == 3, "\(within)")
        #expect(within["goaway"] as? [Int] == [], "\(within)")
        // A client that ignores the advertised limit breaks the protocol: NIOHTTP2 answers
        // GOAWAY PROTOCOL_ERROR (1) and the connection closes.
        let past = try TLSTests.probe("streams", port: server.port, tls: false, cafile: "", 6)
        #expect(past["goaway"] as? [Int] == [1], "\(past)")
        #expect(past["ok"] as? Int ?? 0 < 6, "\(past)")
        // The same 6 at the default limit are all answered.
        let usual = try Self.startServer([])
        #expect(try TLSTests.probe("streams", port: usual.port, tls: false, cafile: "", 6)["ok"] as? Int == 6)
    }

    @Test func aHeaderListPastTheFlagIsRefusedThoughUnderTheDefault() throws {
        let small = try Self.startServer(["--http2-max-header-list-size", "2048"])
        let refused = try TLSTests.probe("header-list", port: small.port, tls: false, cafile: "", 4000)
        #expect(refused["status"] as? [String] == [], "\(refused)")
        #expect((refused["refused"] as? [String] ?? []).isEmpty == false, "\(refused)")
        let usual = try Self.startServer([])
        let served = try TLSTests.probe("header-list", port: usual.port, tls: false, cafile: "", 4000)
        #expect(served["status"] as? [String] == ["200"], "\(served)")
    }

    @Test func aBodyPastTheAdvertisedWindowIsAFlowControlError() throws {
        let server = try Self.startServer(["--http2-initial-window-size", "1024"])
        let result = try TLSTests.probe("overrun-window", port: server.port, tls: false, cafile: "", 5000)
        #expect(result["advertised"] as? Int == 1024, "\(result)")
        #expect(result["errors"] as? [Int] == [3], "\(result)")  // FLOW_CONTROL_ERROR
        #expect(result["status"] as? [String] == [], "\(result)")
    }

    @Test func anIdleConnectionGetsAGOAWAYAfterTheIdleTimeout() throws {
        let server = try Self.startServer(["--http2-idle-timeout", "1"])
        let result = try TLSTests.probe("idle", port: server.port, tls: false, cafile: "", 6)
        #expect((result["goaway"] as? [String])?.first == "0", "\(result)")  // NO_ERROR: a graceful close
        #expect(result["closed"] as? Bool == true, "\(result)")
        let after = result["after"] as? Double ?? 0
        #expect(after >= 0.9 && after < 5, "\(result)")
    }

    @Test func theRapidResetThresholdFollowsTheFlag() throws {
        let strict = try Self.startServer(["--http2-max-resets", "20"])
        let cut = try TLSTests.probe("rapid-reset", port: strict.port, tls: false, cafile: "", 40)
        #expect(cut["closed"] as? Bool == true, "\(cut)")
        #expect(cut["goaway"] as? String == "11", "\(cut)")  // ENHANCE_YOUR_CALM
        let usual = try Self.startServer([])
        let kept = try TLSTests.probe("rapid-reset", port: usual.port, tls: false, cafile: "", 40)
        #expect(kept["closed"] as? Bool == false, "\(kept)")
    }
}
