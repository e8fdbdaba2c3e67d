// `--forwarded-allow-ips` / `--proxy-allow-from` lists: what parses prints as a list that
// parses to the same networks, and looking addresses up never fails.
@testable import CarafeHTTP
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let text = input.rest()
    let parts = text.split(separator: "\n", maxSplits: 1).map(String.init)
    if let list = try? TrustedAddresses(parsing: parts.first ?? "") {
        let again = try? TrustedAddresses(parsing: list.description)
        check(again?.description == list.description, "\(list.description) does not parse back")
        if parts.count == 2 {
            _ = list.contains(ip: parts[1])
        }
    }
    _ = TrustedAddresses.isAddress(text)
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
