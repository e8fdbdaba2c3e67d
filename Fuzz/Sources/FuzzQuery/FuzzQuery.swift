// A request target as a client sends it: the path split and percent-decoded, the query string
// parsed, and typed query parameters read, as a `Request` does for every request.
@testable import CarafeCore
import FuzzSupport
import NIOCore
import NIOHTTP1

let services = App().services

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let target = "/" + input.rest()
    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target, headers: ["host": "example.com"])
    let request = Request(HTTPServerRequest(head: head), services: services)
    check(!request.path.isEmpty || target.isEmpty, target)
    for (name, _) in request.query {
        _ = request.query.all(name)
        _ = try? request.query.get(name, as: Int.self)
        _ = try? request.query.get(name, as: Double.self)
        _ = try? request.query.get(name, as: Bool.self)
    }
    _ = try? request.query.get("page", as: Int.self)
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
