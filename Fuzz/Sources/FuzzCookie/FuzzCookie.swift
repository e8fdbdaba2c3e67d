// The `Cookie` request header, and `Set-Cookie` made from hostile names, values, paths and
// domains: no attribute can be injected, and what is set is what comes back.
@testable import CarafeCore
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let mode = input.byte()
    let text = input.rest()
    _ = Cookie.parse(header: text)
    // NUL-separated: name, value, path, domain.
    let parts = text.split(separator: "\0", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 4, !parts[0].isEmpty else { return 0 }
    let cookie = Cookie(parts[0], parts[1], maxAge: mode & 1 == 0 ? nil : Int(mode), path: parts[2], domain: parts[3], secure: mode & 2 != 0)
    let header = cookie.headerValue
    check(!header.utf8.contains { $0 < 0x20 || $0 == 0x7F }, "control character in \(header.debugDescription)")
    let attributes = header.components(separatedBy: "; ")
    let known = ["Max-Age=", "Expires=", "Path=", "Domain=", "Secure", "HttpOnly", "SameSite="]
    for attribute in attributes.dropFirst() {
        check(known.contains { attribute.hasPrefix($0) }, "injected attribute \(attribute.debugDescription) in \(header.debugDescription)")
    }
    // After the pair: a cookie may be named `Path` (RFC 6265 reads the first pair as the name).
    let after = attributes.dropFirst()
    check(after.filter { $0.hasPrefix("Path=") }.count <= 1 && after.filter { $0.hasPrefix("Domain=") }.count <= 1, header)
    check(!attributes[0].contains(";"), "a ';' in the pair: \(header.debugDescription)")
    check(Cookie.parse(header: attributes[0]) == [parts[0]: parts[1]], "\(parts) -> \(header.debugDescription) -> \(Cookie.parse(header: attributes[0]))")
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
