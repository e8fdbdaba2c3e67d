import NIOCore
import Testing

@testable import CarafeHTTP

/// `LogRateLimiter` with a manual clock: the first line, then one per interval with the count
/// of those left out.
@Suite struct LogRateLimiterTests {
    @Test func oneLinePerIntervalWithTheCountLeftOut() {
        var limiter = LogRateLimiter(interval: .seconds(10))
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        #expect(limiter.decide(at: start) == .write(suppressed: 0))
        for second in 1...9 {
            #expect(limiter.decide(at: start + .seconds(Int64(second))) == .suppress)
        }
        #expect(limiter.decide(at: start + .milliseconds(9_999)) == .suppress)
        #expect(limiter.decide(at: start + .seconds(10)) == .write(suppressed: 10))
        #expect(limiter.decide(at: start + .seconds(11)) == .suppress)
        // A quiet spell: the next line is written at once, with nothing left out but the one.
        #expect(limiter.decide(at: start + .seconds(60)) == .write(suppressed: 1))
        #expect(limiter.decide(at: start + .seconds(120)) == .write(suppressed: 0))
    }
}
