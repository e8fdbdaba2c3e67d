// `Range: bytes=…` against files of a few sizes, the extremes included.
@testable import CarafeCore
import FuzzSupport

let sizes = [0, 1, 2, 100, 65_536, Int.max - 1, Int.max]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let size = sizes[Int(input.byte()) % sizes.count]
    let header = input.rest()
    switch ByteRange(header, size: size) {
    case .satisfiable(let range):
        check(!range.isEmpty && range.lowerBound >= 0 && range.upperBound <= size, "\(header) on \(size) gave \(range)")
    case .unsatisfiable, nil:
        break
    }
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
