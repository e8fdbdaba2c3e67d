import Testing

@testable import CarafeCore

/// `ByteRange`, the parser of `Range: bytes=…`: every answer for a 100-byte file, and the
/// hostile values that once trapped (`end + 1` overflowing) or were read with a sign.
@Suite struct ByteRangeTests {
    @Test(arguments: [
        ("bytes=0-9", 0..<10),
        ("bytes=90-", 90..<100),
        ("bytes=-10", 90..<100),
        ("bytes=-1000", 0..<100),
        ("bytes=95-1000", 95..<100),
        ("bytes=99-99", 99..<100),
        ("BYTES=0-0", 0..<1),
        (" bytes= 3-4 ", 3..<5),
        ("bytes=0-9223372036854775807", 0..<100),
        ("bytes=0-99999999999999999999999999", 0..<100),
        ("bytes=-9223372036854775807", 0..<100),
        ("bytes=-99999999999999999999999999", 0..<100),
        ("bytes=9-9223372036854775806", 9..<100),
    ])
    func satisfiable(header: String, expected: Range<Int>) {
        #expect(ByteRange(header, size: 100) == .satisfiable(expected))
    }

    @Test(arguments: [
        "bytes=100-", "bytes=100-200", "bytes=9223372036854775807-", "bytes=99999999999999999999-",
        "bytes=9223372036854775807-9223372036854775807", "bytes=-0",
    ])
    func unsatisfiable(header: String) {
        #expect(ByteRange(header, size: 100) == .unsatisfiable)
    }

    /// Not one well-formed byte range: the whole file is sent (RFC 9110 lets a server ignore it).
    @Test(arguments: [
        "bytes=+5-9", "bytes=5-+9", "bytes=--5", "bytes=-+5", "bytes=0--5", "bytes=5-4", "bytes=0-1,3-4",
        "bytes=-", "bytes=", "bytes", "items=0-1", "bytes=a-b", "bytes=0x1-2", "bytes=1 -2", "bytes=٣-٤", "",
    ])
    func ignored(header: String) {
        #expect(ByteRange(header, size: 100) == nil)
    }

    @Test func anEmptyFileSatisfiesNoRange() {
        #expect(ByteRange("bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRange("bytes=-5", size: 0) == .unsatisfiable)
        #expect(ByteRange("bytes=0-9223372036854775807", size: 0) == .unsatisfiable)
    }

    @Test func theLargestFileAndRangeDoNotOverflow() {
        #expect(ByteRange("bytes=0-9223372036854775807", size: .max) == .satisfiable(0..<Int.max))
        #expect(ByteRange("bytes=-9223372036854775807", size: .max) == .satisfiable(0..<Int.max))
        #expect(ByteRange("bytes=9223372036854775806-", size: .max) == .satisfiable((Int.max - 1)..<Int.max))
    }
}
