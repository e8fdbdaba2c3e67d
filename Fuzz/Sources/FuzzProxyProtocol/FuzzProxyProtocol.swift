// The PROXY protocol header (v1 text, v2 binary) at the start of a connection.
import CarafeHTTP
import FuzzSupport
import NIOCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let buffer = ByteBuffer(bytes: UnsafeRawBufferPointer(start: data, count: count))
    if case .header(_, let length) = try? ProxyProtocolHeader.parse(buffer.readableBytesView) {
        check(length > 0 && length <= count, "consumed \(length) of \(count)")
    }
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
