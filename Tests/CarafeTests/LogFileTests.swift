import Foundation
import Testing

@testable import CarafeCore

/// `LogFile` (shared, appended, reopened on USR1) and `FileLogHandler` (`--error-logfile`).
@Suite struct LogFileTests {
    private let path = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-log-\(UUID().uuidString).log").path

    private func contents(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    @Test func reopenStartsANewFileAtThePathAfterARename() throws {
        defer { [self.path, self.path + ".1"].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let file = try LogFile(path: self.path, kind: "error log")
        file.write("one\n")
        #expect(rename(self.path, self.path + ".1") == 0)
        file.write("two\n")  // as logrotate renamed it, before USR1: still the old file
        try file.reopen()
        file.write("three\n")
        #expect(self.contents(self.path + ".1") == "one\ntwo\n")
        #expect(self.contents(self.path) == "three\n")
    }

    @Test func aReopenThatFailsIsAnErrorAndKeepsTheOldFile() throws {
        defer { [self.path, self.path + ".1"].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let file = try LogFile(path: self.path, kind: "error log")
        #expect(rename(self.path, self.path + ".1") == 0)
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: false)
        let error = #expect(throws: LogFileError.self) { try file.reopen() }
        #expect(error?.description == "cannot open error log '\(self.path)': Is a directory")
        file.write("kept\n")
        #expect(self.contents(self.path + ".1") == "kept\n")
    }

    @Test func theHandlerWritesStreamLogHandlersLines() throws {
        defer { try? FileManager.default.removeItem(atPath: self.path) }
        let file = try LogFile(path: self.path, kind: "error log")
        var logger = Logger(label: "carafe") { FileLogHandler(label: $0, file: file) }
        logger.logLevel = .notice
        logger[metadataKey: "worker"] = "2"
        logger.info("not at this level")
        logger.notice("serving", metadata: ["a": "b"])
        logger.error("failed")
        let lines = self.contents(self.path)?.split(separator: "\n", omittingEmptySubsequences: false) ?? []
        #expect(lines.count == 3, "\(lines)")
        let stamp = #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} "#
        #expect(
            lines.first?.range(of: stamp + #"notice carafe: a=b worker=2 \[CarafeTests\] serving$"#, options: .regularExpression) != nil,
            "\(lines)"
        )
        #expect(
            lines.dropFirst().first?.range(of: stamp + #"error carafe: worker=2 \[CarafeTests\] failed$"#, options: .regularExpression)
                != nil,
            "\(lines)"
        )
    }
}
