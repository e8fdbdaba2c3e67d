// `If-Modified-Since` and other HTTP dates: parse, and what parses formats back to the same second.
@testable import CarafeHTTP
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let text = input.rest()
    // Years 1000 to 9999 print as 4 digits (a leap second on 9999-12-31 is in year 10000).
    if let seconds = HTTPDate.parse(text), (-30_610_224_000...253_402_300_799).contains(seconds) {
        check(HTTPDate.parse(HTTPDate.format(seconds)) == seconds, "\(text) -> \(seconds) -> \(HTTPDate.format(seconds))")
    }
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
