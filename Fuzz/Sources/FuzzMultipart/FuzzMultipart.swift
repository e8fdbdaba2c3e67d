// `multipart/form-data` bodies through `MultipartParser`: the boundary comes from the input's
// first line (as a `Content-Type` parameter, so `MediaType` parses it too), the rest is the
// body, fed once whole and once split at points the input chooses. Both feedings must find the
// same parts, heads and bytes, and end the same way; the events must nest (a body only inside
// a part, one end per part).
@testable import CarafeCore
import FuzzSupport
import NIOCore

/// What one feeding found: each part's head and body bytes, whether the last part ended, and
/// the error that stopped it (or `finish()`'s), if any.
struct Outcome: Equatable {
    var parts: [(head: MultipartPartHead, body: [UInt8])] = []
    var open = false
    var error: String?

    /// A feed that throws returns none of its events, so after an error only the error is compared.
    static func == (a: Outcome, b: Outcome) -> Bool {
        if a.error != nil || b.error != nil { return a.error == b.error }
        return a.open == b.open && a.error == b.error && a.parts.count == b.parts.count
            && zip(a.parts, b.parts).allSatisfy { $0.head == $1.head && $0.body == $1.body }
    }
}

func run(contentType: String, limits: MultipartLimits, chunks: [ArraySlice<UInt8>]) -> Outcome? {
    guard var parser = try? MultipartParser(contentType: contentType, limits: limits) else { return nil }
    var outcome = Outcome()
    do {
        for chunk in chunks {
            for event in try parser.feed(ByteBuffer(bytes: chunk)) {
                switch event {
                case .part(let head):
                    check(!outcome.open, "a part began before the last one ended")
                    check(head.index == outcome.parts.count + 1, "part \(outcome.parts.count + 1) has index \(head.index)")
                    outcome.parts.append((head, []))
                    outcome.open = true
                case .body(let bytes):
                    check(outcome.open, "body bytes outside a part")
                    check(bytes.readableBytes > 0, "an empty body event")
                    outcome.parts[outcome.parts.count - 1].body += Array(bytes.readableBytesView)
                case .partEnd:
                    check(outcome.open, "a part ended that had not begun")
                    outcome.open = false
                }
            }
        }
        check(parser.partCount == outcome.parts.count, "partCount \(parser.partCount), parts seen \(outcome.parts.count)")
        try parser.finish()
        check(!outcome.open, "finish() accepted a body that ends inside a part")
    } catch let error as MultipartError {
        outcome.error = "\(error)"
    } catch {
        check(false, "an error that is not a MultipartError: \(error)")
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    // Small limits, so that inputs reach them.
    let limits = MultipartLimits(maxParts: 1 + Int(input.byte() % 8), maxPartHeaderSize: 16 + Int(input.byte()))
    let splits = Int(input.byte() % 8)
    var cuts = (0..<splits).map { _ in Int(input.byte()) << 8 | Int(input.byte()) }
    let bytes = input.restBytes()
    guard let newline = bytes.firstIndex(of: 10) else { return 0 }
    let contentType = "multipart/form-data; boundary=" + String(decoding: bytes[..<newline], as: UTF8.self)
    let body = bytes[(newline + 1)...]
    guard let whole = run(contentType: contentType, limits: limits, chunks: [body]) else { return 0 }
    cuts = cuts.map { body.startIndex + $0 % (body.count + 1) }.sorted()
    var chunks: [ArraySlice<UInt8>] = []
    var start = body.startIndex
    for cut in cuts {
        chunks.append(body[start..<cut])
        start = cut
    }
    chunks.append(body[start...])
    let split = run(contentType: contentType, limits: limits, chunks: chunks)!
    check(whole == split, "feeding \(body.count) bytes split at \(cuts.map { $0 - body.startIndex }) differs from feeding them whole: \(whole) vs \(split)")
    // One byte at a time, the hardest split.
    if body.count <= 512 {
        let bytewise = run(contentType: contentType, limits: limits, chunks: body.indices.map { body[$0...$0] })!
        check(whole == bytewise, "feeding \(body.count) bytes one at a time differs from feeding them whole: \(whole) vs \(bytewise)")
    }
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
