import Foundation
import Logging

/// A `LogHandler` that writes to a `LogFile` (`--error-logfile`) the lines swift-log's
/// `StreamLogHandler` writes to standard error:
///
///     2026-11-23T10:22:15+0000 info carafe: worker=1 [Carafe] worker 1 (pid 4738) serving on …
///
/// Control characters in messages and metadata are escaped (see `escaped(_:)`), so a line
/// cannot be forged through user input. `App.logger` writes to standard error through it by
/// default. Each line is one `write(2)` to a descriptor opened with `O_APPEND`, so the lines of the
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
        let pretty = metadata.sorted { $0.key < $1.key }.map { " \(Self.escaped($0.key))=\(Self.escaped("\($0.value)"))" }.joined()
        let label = self.label.isEmpty ? "" : " \(self.label)"
        self.file.write("\(Self.timestamp()) \(event.level)\(label):\(pretty) [\(event.source)] \(Self.escaped("\(event.message)"))\n")
    }

    /// `text` with control characters (C0, DEL, C1, and the Unicode line and paragraph
    /// separators) written as `\xNN` / `\u{NNNN}`: one event is one line, so a client's input
    /// in a message (`logger.info("no user \(name)")`) cannot start a forged line of its own.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: Self.isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if !Self.isControl(scalar) {
                out.unicodeScalars.append(scalar)
            } else if scalar.value <= 0xFF {
                out += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
            } else {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
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
