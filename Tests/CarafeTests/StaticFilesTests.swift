import CarafeTesting
import Foundation
import NIOHTTP1
import Testing

@testable import CarafeCore

/// `app.static`: files, conditional requests, ranges, and no way out of the directory.
@Suite struct StaticFilesTests {
    let root: URL
    let outside: URL
    let app = App()

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-static-\(UUID().uuidString)")
        self.root = base.appendingPathComponent("public")
        self.outside = base.appendingPathComponent("private")
        let files = FileManager.default
        try files.createDirectory(at: self.root.appendingPathComponent("css"), withIntermediateDirectories: true)
        try files.createDirectory(at: self.outside, withIntermediateDirectories: true)
        try "Hello, static!".write(to: self.root.appendingPathComponent("hello.txt"), atomically: true, encoding: .utf8)
        try "body { color: red }".write(to: self.root.appendingPathComponent("css/site.css"), atomically: true, encoding: .utf8)
        try Data((0..<(300 * 1024)).map { UInt8($0 % 251) }).write(to: self.root.appendingPathComponent("big.bin"))
        try "TOP-SECRET-CONTENT".write(to: self.outside.appendingPathComponent("secret.txt"), atomically: true, encoding: .utf8)
        try files.createSymbolicLink(
            at: self.root.appendingPathComponent("escape.txt"),
            withDestinationURL: self.outside.appendingPathComponent("secret.txt")
        )
        try files.createSymbolicLink(
            at: self.root.appendingPathComponent("alias.txt"),
            withDestinationURL: self.root.appendingPathComponent("hello.txt")
        )
        self.app.static("/static", directory: self.root.path)
    }

    @Test func aFileIsServedWithItsValidators() async {
        let response = await self.app.test.get("/static/hello.txt")
        #expect(response.status == .ok)
        #expect(response.text == "Hello, static!")
        #expect(response.header("content-type") == "text/plain; charset=utf-8")
        #expect(response.header("accept-ranges") == "bytes")
        #expect(response.header("etag")?.hasPrefix("\"") == true)
        #expect(response.header("last-modified").flatMap(HTTPDate.parse) != nil)
        #expect(await self.app.test.get("/static/css/site.css").header("content-type") == "text/css; charset=utf-8")
    }

    @Test func aLargeFileArrivesWhole() async throws {
        let response = await self.app.test.get("/static/big.bin")
        #expect(response.header("content-type") == "application/octet-stream")
        #expect(Array(response.body.readableBytesView) == Array(try Data(contentsOf: self.root.appendingPathComponent("big.bin"))))
    }

    @Test func headHasTheHeadersAndNoBody() async {
        let response = await self.app.test.head("/static/hello.txt")
        #expect(response.status == .ok)
        #expect(response.body.readableBytes == 0)
        #expect(response.header("etag") != nil)
    }

    @Test func aCurrentCopyGets304() async {
        let first = await self.app.test.get("/static/hello.txt")
        let etag = first.header("etag")!
        let modified = first.header("last-modified")!
        let byETag = await self.app.test.get("/static/hello.txt", headers: ["If-None-Match": etag])
        #expect(byETag.status == .notModified)
        #expect(byETag.body.readableBytes == 0)
        #expect(byETag.header("etag") == etag)
        #expect(await self.app.test.get("/static/hello.txt", headers: ["If-None-Match": "\"other\""]).status == .ok)
        #expect(await self.app.test.get("/static/hello.txt", headers: ["If-Modified-Since": modified]).status == .notModified)
        #expect(await self.app.test.get("/static/hello.txt", headers: ["If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"]).status == .ok)
    }

    @Test(arguments: [
        ("bytes=0-4", "Hello", "bytes 0-4/14"),
        ("bytes=7-", "static!", "bytes 7-13/14"),
        ("bytes=-7", "static!", "bytes 7-13/14"),
        ("bytes=7-100", "static!", "bytes 7-13/14"),
    ])
    func aRangeGets206(range: String, body: String, contentRange: String) async {
        let response = await self.app.test.get("/static/hello.txt", headers: ["Range": range])
        #expect(response.status == .partialContent)
        #expect(response.text == body)
        #expect(response.header("content-range") == contentRange)
    }

    @Test func anUnsatisfiableRangeGets416AndOthersTheWholeFile() async {
        let beyond = await self.app.test.get("/static/hello.txt", headers: ["Range": "bytes=100-200"])
        #expect(beyond.status == .rangeNotSatisfiable)
        #expect(beyond.header("content-range") == "bytes */14")
        // Several ranges, another unit, or a stale If-Range: the whole file.
        for headers: HTTPHeaders in [["Range": "bytes=0-1,3-4"], ["Range": "lines=1-2"], ["Range": "bytes=0-4", "If-Range": "\"stale\""]] {
            let response = await self.app.test.get("/static/hello.txt", headers: headers)
            #expect(response.status == .ok)
            #expect(response.text == "Hello, static!")
        }
    }

    @Test(arguments: [
        "/static/../private/secret.txt",
        "/static/%2e%2e/private/secret.txt",
        "/static/..%2Fprivate%2Fsecret.txt",
        "/static/css/..%2F..%2Fprivate/secret.txt",
        "/static/escape.txt",
        "/static/css",
        "/static/missing.txt",
        "/static/hello.txt%00.css",
    ])
    func nothingOutsideTheDirectoryIsServed(path: String) async {
        let response = await self.app.test.get(path)
        #expect(response.status == .notFound, "\(path) answered \(response.status)")
        #expect(!response.text.contains("TOP-SECRET-CONTENT"))
    }

    @Test func aLinkThatStaysInsideIsFollowed() async {
        #expect(await self.app.test.get("/static/alias.txt").text == "Hello, static!")
    }

    @Test func httpDatesRoundTrip() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("garbage") == nil)
    }
}
