import Foundation
import Logging

/// A `LogHandler` that writes to a `LogFile` (`--error-logfile`) the lines swift-log's
/// `StreamLogHandler` writes to standard error:
///
///     2026-11-23T10:22:15+0000 info carafe: worker=1 [Carafe] worker 1 (pid 4738) serving on …
///
/// Each line is one `write(2)` to a descriptor opened with `O_APPEND`, so the lines of the
/// master and its workers never interleave, and they follow the file when USR1 reopens it.
public struct FileLogHandler: LogHandler {
    private let label: String
    private let file: LogFile
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    /// A handler for the logger labelled `label`, writing to `file`.
    public init(label: String, file: LogFile) {
        self.label = label
        self.file = file
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var metadata = self.metadata
        if let explicit = event.metadata { metadata.merge(explicit) { _, explicit in explicit } }
        if let error = event.error {
            metadata["error.message"] = "\(error)"
            metadata["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        let pretty = metadata.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        let label = self.label.isEmpty ? "" : " \(self.label)"
        self.file.write("\(Self.timestamp()) \(event.level)\(label):\(pretty) [\(event.source)] \(event.message)\n")
    }

    /// Local time, as `StreamLogHandler` writes it: `2026-11-23T10:22:15+0000`.
    private static func timestamp() -> String {
        var now = time(nil)
        var local = tm()
        localtime_r(&now, &local)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
