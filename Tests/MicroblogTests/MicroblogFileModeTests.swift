import Foundation
import ProcessTestSupport
import Testing

/// The microblog's SQLite file holds password hashes, and its key file signs sessions: both
/// are created readable by their owner only.
@Suite struct MicroblogFileModeTests {
    static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? nil
    }

    @Test func theDatabaseAndTheKeyFileAre0600() throws {
        let server = try MicroblogServer(secretKey: nil)
        #expect(try curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(server.port)/"]) != "000")
        let key = server.directory.appendingPathComponent("microblog.secret-key").path
        #expect(Self.mode(server.databasePath) == 0o600, "\(String(Self.mode(server.databasePath) ?? -1, radix: 8))")
        #expect(Self.mode(key) == 0o600)
        for journal in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: server.databasePath + journal) {
            #expect(Self.mode(server.databasePath + journal) == 0o600, "\(journal)")
        }
    }
}
