import CarafeCompression
import CarafeTesting
import Foundation
import Testing

@testable import CarafeCore

/// gunzip / zlib-decompress through Python's zlib (a second, independent implementation).
func pythonInflate(_ bytes: ByteBuffer, wbits: Int) throws -> [UInt8] {
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-z-\(UUID().uuidString)")
    try Data(bytes.readableBytesView).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "python3", "-c", "import sys,zlib;sys.stdout.buffer.write(zlib.decompress(open(sys.argv[1],'rb').read(), \(wbits)))", input.path,
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw HTTPError(.internalServerError, "python zlib failed") }
    return Array(data)
}

func pythonCompress(_ bytes: [UInt8], wbits: Int) throws -> ByteBuffer {
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-z-\(UUID().uuidString)")
    try Data(bytes).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "python3", "-c",
        "import sys,zlib;c=zlib.compressobj(9,zlib.DEFLATED,\(wbits));sys.stdout.buffer.write(c.compress(open(sys.argv[1],'rb').read())+c.flush())",
        input.path,
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ByteBuffer(bytes: data)
}

@Suite struct CompressionTests {
    static let text = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 200)

    static func app() -> App {
        let app = App()
        app.compression()
        app.get("/text") { _ in Response(headers: ["etag": "\"v1\""], text: Self.text) }
        app.get("/tiny") { _ in "tiny" }
        app.get("/png") { _ in Response(headers: ["content-type": "image/png"], body: ByteBuffer(string: Self.text)) }
        app.get("/encoded") { _ in
            Response(headers: ["content-type": "text/plain", "content-encoding": "br"], body: ByteBuffer(string: Self.text))
        }
        app.get("/stream") { _ in
            Response.stream(contentType: "text/plain") { writer in
                for index in 0..<3 { try await writer.write(ByteBuffer(string: "chunk \(index) " + Self.text)) }
            }
        }
        return app
    }

    @Test func gzipAndDeflateByQValues() async throws {
        let app = Self.app()
        let gzip = await app.test.get("/text", headers: ["accept-encoding": "deflate;q=0.5, gzip"])
        #expect(gzip.header("content-encoding") == "gzip")
        #expect(gzip.header("vary") == "Accept-Encoding")
        #expect(gzip.header("etag") == "W/\"v1\"")
        #expect(gzip.body.readableBytes < Self.text.utf8.count / 10)
        #expect(try pythonInflate(gzip.body, wbits: 31) == Array(Self.text.utf8))
        let deflate = await app.test.get("/text", headers: ["accept-encoding": "gzip;q=0.2, deflate;q=0.8"])
        #expect(deflate.header("content-encoding") == "deflate")
        #expect(try pythonInflate(deflate.body, wbits: 15) == Array(Self.text.utf8))
        let refused = await app.test.get("/text", headers: ["accept-encoding": "gzip;q=0, br"])
        #expect(refused.header("content-encoding") == nil)
        #expect(refused.header("vary") == "Accept-Encoding")
        #expect(refused.text == Self.text)
        #expect(await app.test.get("/text", headers: ["accept-encoding": "*"]).header("content-encoding") == "gzip")
        #expect(await app.test.get("/text").header("content-encoding") == nil)
    }

    @Test func skippedWhereItMustNotApply() async throws {
        let app = Self.app()
        let gzip: HTTPHeaders = ["accept-encoding": "gzip"]
        #expect(await app.test.get("/tiny", headers: gzip).header("content-encoding") == nil)
        #expect(await app.test.get("/png", headers: gzip).header("content-encoding") == nil)
        #expect(await app.test.get("/encoded", headers: gzip).header("content-encoding") == "br")
        #expect(await app.test.head("/text", headers: gzip).header("content-encoding") == nil)
    }

    @Test func streamsAreCompressedChunkByChunkWithAFlushEach() async throws {
        let app = Self.app()
        let response = await app.test.get("/stream", headers: ["accept-encoding": "gzip"])
        #expect(response.header("content-encoding") == "gzip")
        let expected = (0..<3).map { "chunk \($0) " + Self.text }.joined()
        #expect(try pythonInflate(response.body, wbits: 31) == Array(expected.utf8))
    }

    @Test func requestDecompressionWithBombLimits() async throws {
        let app = App()
        app.requestDecompression(RequestDecompression(maxSize: 1 << 20, maxRatio: 100))
        app.post("/echo") { req in "\(req.body.readableBytes) \(req.bodyText.prefix(9))" }
        app.post("/form") { req in req.form["name"] ?? "-" }
        let plain = Array(String(repeating: "abcdefghij", count: 5000).utf8)
        let ok = await app.test.request(.POST, "/echo", headers: ["content-encoding": "gzip"], body: try pythonCompress(plain, wbits: 31))
        #expect(ok.text == "50000 abcdefghi")
        let zlib = await app.test.request(
            .POST,
            "/echo",
            headers: ["content-encoding": "deflate"],
            body: try pythonCompress(plain, wbits: 15)
        )
        #expect(zlib.text == "50000 abcdefghi")
        let form = await app.test.request(
            .POST,
            "/form",
            headers: ["content-encoding": "gzip", "content-type": "application/x-www-form-urlencoded"],
            body: try pythonCompress(Array("name=Ann".utf8), wbits: 31)
        )
        #expect(form.text == "Ann")
        // A bomb: 8 MiB of zeros in a few KiB.
        let bomb = try pythonCompress([UInt8](repeating: 0, count: 8 << 20), wbits: 31)
        let refused = await app.test.request(.POST, "/echo", headers: ["content-encoding": "gzip"], body: bomb)
        #expect(refused.status == .payloadTooLarge)
        #expect(refused.text.contains("limit maxRatio") || refused.text.contains("limit maxSize"), "\(refused.text)")
        let garbage = await app.test.request(
            .POST,
            "/echo",
            headers: ["content-encoding": "gzip"],
            body: ByteBuffer(string: "not gzip at all")
        )
        #expect(garbage.status == .badRequest)
        let unknown = await app.test.request(.POST, "/echo", headers: ["content-encoding": "br"], body: ByteBuffer(string: "x"))
        #expect(unknown.status == .unsupportedMediaType)
    }
}
