import Testing

@testable import CarafeCore

/// `--access-logformat`: Gunicorn's atoms, parsed once into segments. What each atom writes is
/// tested through `AccessLog` (AccessLogTests).
@Suite struct AccessLogFormatTests {
    @Test func theDefaultIsApachesCombinedFormat() {
        let format = AccessLogFormat.default
        #expect(format.description == #"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#)
        #expect(
            format.segments == [
                .atom(.remoteAddress), .text(" "), .atom(.ident), .text(" "), .atom(.user), .text(" "), .atom(.time), .text(" \""),
                .atom(.requestLine), .text("\" "), .atom(.status), .text(" "), .atom(.bytesOrDash), .text(" \""), .atom(.referer),
                .text("\" \""), .atom(.userAgent), .text("\""),
            ]
        )
        #expect(AccessLogFormat.defaultWithPID.description == format.description + " %(p)s")
        #expect(AccessLogFormat.defaultWithPID.segments == format.segments.dropLast() + [.text("\" "), .atom(.pid)])
    }

    @Test func textAroundAtomsAndDoubledPercentsAreOneSegment() throws {
        let format = try AccessLogFormat("took %%%(M)s ms, 100%% [%({X-Request-Id}i)s%({server}o)s]")
        #expect(
            format.segments == [
                .text("took %"), .atom(.milliseconds), .text(" ms, 100% ["), .atom(.requestHeader("X-Request-Id")),
                .atom(.responseHeader("server")), .text("]"),
            ]
        )
        #expect(try AccessLogFormat("").segments == [])
        #expect(try AccessLogFormat("plain").segments == [.text("plain")])
    }

    @Test(arguments: [
        ("%(x)s", "unknown atom %(x)s"),
        ("%(h)s %(hh)s", "unknown atom %(hh)s"),
        ("%({name}x)s", "unknown atom %({name}x)s"),  // i, o and e (environment) are the kinds
        ("%({}i)s", "unknown atom %({}i)s"),
        ("%(h)d", "a '%' must start an atom such as %(h)s, or be doubled (%%)"),
        ("%(h", "a '%' must start an atom such as %(h)s, or be doubled (%%)"),
        ("100%", "a '%' must start an atom such as %(h)s, or be doubled (%%)"),
        ("%h", "a '%' must start an atom such as %(h)s, or be doubled (%%)"),
    ])
    func aBadFormatIsAClearError(format: String, problem: String) {
        let error = #expect(throws: AccessLogFormatError.self) { try AccessLogFormat(format) }
        #expect(error?.problem == problem)
        #expect(error?.description.hasPrefix("\(problem) in the access log format; the atoms are %(h)s") == true)
    }
}
