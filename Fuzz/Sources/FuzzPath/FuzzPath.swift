// Percent-decoding of path segments: what decodes, escaped again, decodes to the same text;
// and a decoded segment never holds a `/` that was not escaped in the target.
@testable import CarafeCore
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let plus = input.byte() & 1 == 1
    let text = input.rest()
    if let decoded = URLEncodedForm.percentDecode(text, plusAsSpace: plus) {
        let escaped = URLEncodedForm.escapePathSegment(decoded)
        check(URLEncodedForm.percentDecode(escaped, plusAsSpace: false) == decoded, "\(text.debugDescription) -> \(decoded.debugDescription) -> \(escaped)")
        check(!escaped.contains("/"), escaped)
    }
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
