import Foundation
import ProcessTestSupport
import Testing

/// Requests that once crashed the whole `behind-proxy` process (a trap in the Range or the
/// HTTP-date parser), sent with curl over a real socket: each is answered, and the process
/// serves on.
@Suite struct HostileRequestTests {
    final class Server: @unchecked Sendable {
        let directory: URL
        let process: ServerProcess

        init() throws {
            self.directory = try testDirectory()
            try Data((0..<100).map { UInt8($0) }).write(to: self.directory.appendingPathComponent("data.bin"))
            self.process = try ServerProcess(
                builtExecutable("behind-proxy"),
                ["serve", "--bind", "127.0.0.1:0"],
                environment: ["STATIC_DIR": self.directory.path]
            )
        }

        var url: String { "http://127.0.0.1:\(self.process.port)" }

        /// `status size` of a request for the static file with `arguments` added.
        func file(_ arguments: [String]) throws -> String {
            try curl(["-o", "/dev/null", "-w", "%{http_code} %{size_download}"] + arguments + ["\(self.url)/static/data.bin"])
        }

        /// The process is alive and answers.
        func expectServing(_ comment: Comment) throws {
            #expect(try curl(["\(self.url)/plaintext"]) == "Hello, World!", comment)
            #expect(self.process.process.isRunning, comment)
        }
    }

    @Test(arguments: [
        ("bytes=0-9223372036854775807", "206 100"),
        ("bytes=0-99999999999999999999999", "206 100"),
        ("bytes=-9223372036854775807", "206 100"),
        ("bytes=9223372036854775807-", "416 0"),
        ("bytes=9223372036854775807-9223372036854775807", "416 0"),
        ("bytes=+5-9", "200 100"),
        ("bytes=-+5", "200 100"),
        ("bytes=5--9", "200 100"),
    ])
    func aHugeOrSignedRangeIsAnswered(range: String, expected: String) throws {
        let server = try Server()
        #expect(try server.file(["-H", "Range: \(range)"]) == expected, "GET Range: \(range)")
        #expect(try server.file(["-I", "-H", "Range: \(range)"]).hasPrefix(String(expected.prefix(3))), "HEAD Range: \(range)")
        try server.expectServing("after Range: \(range)")
    }

    @Test(arguments: [
        "Sun, 06 Nov -2147483648 08:49:37 GMT",
        "Sun, 06 Nov 2147483647 08:49:37 GMT",
        "Sun, 06 Nov 99999999999999999999 08:49:37 GMT",
        "Sun, 99999999999 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 2147483647:49:37 GMT",
    ])
    func aHostileIfModifiedSinceIsIgnored(date: String) throws {
        let server = try Server()
        #expect(try server.file(["-H", "If-Modified-Since: \(date)"]) == "200 100", "If-Modified-Since: \(date)")
        // A sane date after the file's still gets 304: the header is read, not dropped.
        #expect(try server.file(["-H", "If-Modified-Since: Fri, 31 Dec 9999 23:59:59 GMT"]) == "304 0")
        try server.expectServing("after If-Modified-Since: \(date)")
    }
}
