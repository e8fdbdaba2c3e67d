import Foundation
import ProcessTestSupport
import Testing

/// `--pid FILE`: written by the master, but never through a symbolic link planted at the path.
@Suite struct PidFileTests {
    @Test func aSymbolicLinkAtThePidPathIsRefusedNotFollowed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-pid-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let victim = directory.appendingPathComponent("precious.conf")
        try "do not overwrite\n".write(to: victim, atomically: true, encoding: .utf8)
        let link = directory.appendingPathComponent("app.pid")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: victim)

        let process = Process()
        process.executableURL = builtExecutable("hello")
        process.arguments = ["serve", "--workers", "1", "--bind", "127.0.0.1:0", "--pid", link.path]
        let errors = PipeCollector()
        process.standardError = errors.pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            childPIDs(of: process.processIdentifier).forEach { kill($0, SIGKILL) }
        }
        process.waitUntilExit()
        #expect(process.terminationStatus != 0, "\(errors.text)")
        #expect(errors.text.contains(link.path), "\(errors.text)")
        #expect(try String(contentsOf: victim, encoding: .utf8) == "do not overwrite\n")
    }
}
