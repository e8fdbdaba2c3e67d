// A trusted proxy's forwarded headers, all of them trusted: whatever they say, the scheme is
// http or https, the host has host characters only and the prefix is a path.
@testable import CarafeCore
import FuzzSupport
import NIOCore

let trusted = try! TrustedAddresses(parsing: "127.0.0.1,10.0.0.0/8,::1,fd00::/8")
let peer = try! SocketAddress(ipAddress: "127.0.0.1", port: 4000)
let names = ["forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-forwarded-prefix", "host"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let accepted = TrustedForwardedHeaders(rawValue: Int(input.byte()) & 0x3F)
    // Lines of "N value": N picks the header's name.
    var headers = HTTPHeaders()
    for line in input.rest().split(separator: "\n") {
        guard let first = line.utf8.first else { continue }
        headers.add(name: names[Int(first) % names.count], value: String(line.dropFirst()))
    }
    let forwarded = ForwardedHeaders(headers: headers, peer: peer, trusted: trusted, accepting: accepted)
    check(forwarded.scheme == "http" || forwarded.scheme == "https", forwarded.scheme)
    if let host = forwarded.host { check(ForwardedHeaders.validHost(host) == host, host) }
    check(forwarded.prefix.isEmpty || (forwarded.prefix.hasPrefix("/") && !forwarded.prefix.hasPrefix("//")), forwarded.prefix)
    check(forwarded.client != nil, "no client")
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
