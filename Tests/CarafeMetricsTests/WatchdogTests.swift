import Foundation
import ProcessTestSupport
import Testing

/// Blocked-loop forensics through `hello`'s `/block`, which blocks its loop on purpose.
@Suite struct WatchdogTests {
    static let executable = builtExecutable("hello")

    @Test func aBlockedLoopIsLoggedWithItsRequestAndCounted() throws {
        let (server, metrics) = try MetricsEndpointTests.start(["--blocked-loop-threshold", "200", "--event-loops", "1"])
        _ = try curl(["-s", "-o", "/dev/null", "-H", "X-Request-Id: stuck-1", "http://127.0.0.1:\(server.port)/block?ms=900"])
        let line =
            #"event loop 0 blocked for \d+ ms \(threshold 200 ms\); running GET /block \(route /block, request id stuck-1, for \d+ ms\)"#
        #expect(server.waitForOutput(line, timeout: 5), "\(server.output)")
        #expect(server.waitForOutput(#"event loop 0 moved again after being blocked for \d+ ms"#, timeout: 5))
        // Not for requests that wait without blocking.
        _ = try curl(["-s", "-o", "/dev/null", "http://127.0.0.1:\(server.port)/io?ms=600"])
        let scrape = try MetricsEndpointTests.scrape(metrics)
        #expect(scrape.value("carafe_event_loop_stalls_total") == 1)
        #expect((scrape.value("carafe_event_loop_stall_seconds_sum") ?? 0) >= 0.5)
    }

    @Test func theMastersTimeoutLogNamesTheRequestsTheWorkerHadInFlight() throws {
        let server = try ServerProcess(
            Self.executable,
            [
                "serve", "--bind", "127.0.0.1:0", "--workers", "1", "--event-loops", "1", "--timeout", "2", "--blocked-loop-threshold",
                "300", "--log-level", "info",
            ]
        )
        #expect(server.waitForOutput("is serving", timeout: 20))
        _ = try? curl(["-s", "-o", "/dev/null", "-H", "X-Request-Id: hung-7", "http://127.0.0.1:\(server.port)/block?ms=6000"])
        let line = #"worker 1 \(pid \d+\) had in flight: GET /block \(route /block, request id hung-7, for \d+ ms\)"#
        #expect(server.waitForOutput(line, timeout: 10), "\(server.output)")
        #expect(server.output.range(of: #"worker 1 \(pid \d+\) timed out"#, options: .regularExpression) != nil)
    }
}
