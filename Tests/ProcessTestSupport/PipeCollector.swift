import Foundation

/// Reads a pipe on a thread of its own for as long as it is open and keeps what came, so that
/// a child process never blocks on a full pipe and a test can look at its output at any time.
public final class PipeCollector: @unchecked Sendable {
    public let pipe = Pipe()
    private let lock = NSLock()
    private var collected = ""

    public init() {
        let reader = self.pipe.fileHandleForReading
        Thread.detachNewThread { [weak self] in
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { return }
                guard let self else { return }
                self.lock.withLock { self.collected += String(decoding: chunk, as: UTF8.self) }
            }
        }
    }

    /// Everything read so far.
    public var text: String { self.lock.withLock { self.collected } }
}
