import NIOHTTP1
import Testing

@testable import CarafeCore

/// Request ids from the pooled CSPRNG block, and `Vary` merging without Foundation: both run
/// for every response.
@Suite struct RequestIDPoolTests {
    @Test func idsAre32HexDigitsAndUniqueAcrossSeveralRefills() {
        var seen = Set<String>()
        for _ in 0..<2_000 {  // 512 words a block, 2 per id: about 8 refills
            let id = RequestID.make()
            #expect(id.utf8.count == 32)
            #expect(id.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }, "\(id)")
            seen.insert(id)
        }
        #expect(seen.count == 2_000, "no id twice")
    }

    @Test func varyIsMergedOnceEachTrimmedAndCaseInsensitively() {
        var headers = HTTPHeaders()
        headers.addVary("Origin")
        headers.addVary(" accept-encoding ,origin,, Accept ")
        #expect(headers[canonicalForm: "vary"].map(String.init) == ["Origin", "accept-encoding", "Accept"])
        headers.addVary("Origin, Accept-Encoding")
        #expect(headers[canonicalForm: "vary"].count == 3, "nothing new added")
        var star = HTTPHeaders([("vary", "*")])
        star.addVary("Origin")
        #expect(star[canonicalForm: "vary"].map(String.init) == ["*"])
    }
}
