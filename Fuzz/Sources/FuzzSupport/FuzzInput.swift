#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Hands the command line to libFuzzer, which calls `target` with each input, and exits with
/// its status. (SwiftPM gives an executable a Swift `main`, so libFuzzer's own is not used.)
public func runFuzzer(_ target: @convention(c) (UnsafeRawPointer, Int) -> CInt) -> Never {
    fuzzTarget = target
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, count in
        let empty: UInt8 = 0
        return withUnsafePointer(to: empty) { fallback in fuzzTarget!(UnsafeRawPointer(data ?? fallback), data == nil ? 0 : count) }
    })
}

nonisolated(unsafe) private var fuzzTarget: (@convention(c) (UnsafeRawPointer, Int) -> CInt)?

/// The bytes libFuzzer hands a target, read front to back: a few bytes of choices, then text.
public struct FuzzInput {
    private let bytes: [UInt8]
    private var index = 0

    public init(_ data: UnsafeRawPointer, _ count: Int) {
        self.bytes = Array(UnsafeRawBufferPointer(start: data, count: count))
    }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard self.index < self.bytes.count else { return 0 }
        defer { self.index += 1 }
        return self.bytes[self.index]
    }

    /// Everything not read yet, as UTF-8 text (invalid bytes replaced).
    public mutating func rest() -> String {
        defer { self.index = self.bytes.count }
        return String(decoding: self.bytes[min(self.index, self.bytes.count)...], as: UTF8.self)
    }

    /// Everything not read yet, as bytes.
    public mutating func restBytes() -> [UInt8] {
        defer { self.index = self.bytes.count }
        return Array(self.bytes[min(self.index, self.bytes.count)...])
    }
}

/// Stops the run with a message when an invariant fails: libFuzzer saves the input as a crash.
public func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant failed: \(message())") }
}
