import CarafeTesting
import Foundation
import Testing

@testable import CarafeCore

/// The multipart parser (bytes in, events out), the collected form, `decode`, spooling and limits.
@Suite struct MultipartParserTests {
    /// Feeds `body` in chunks of `size` bytes and returns (name, filename, content) per part.
    static func parse(
        _ body: String,
        boundary: String = "XyZ",
        chunk size: Int = .max,
        limits: MultipartLimits = MultipartLimits()
    ) throws -> [(String, String?, String)] {
        var parser = try MultipartParser(boundary: boundary, limits: limits)
        let bytes = Array(body.utf8)
        var parts: [(String, String?, String)] = []
        var current: [UInt8] = []
        var offset = 0
        repeat {
            let end = min(bytes.count, offset + min(size, bytes.count))
            for event in try parser.feed(ByteBuffer(bytes: bytes[offset..<end])) {
                switch event {
                case .part(let head):
                    parts.append((head.name, head.filename, ""))
                    current = []
                case .body(let chunk): current += chunk.readableBytesView
                case .partEnd: parts[parts.count - 1].2 = String(decoding: current, as: UTF8.self)
                }
            }
            offset = end
        } while offset < bytes.count
        try parser.finish()
        return parts
    }

    static let tricky =
        "preamble text\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\none\r\n--XyZ\r\n"
        + "Content-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\n"
        + "line\r\n--XyQ not the boundary\r\n--Xy\r\n-- XyZ\r\n\r"
        + "\r\n--XyZ--\r\nepilogue --XyZ\r\n ignored"

    @Test func preambleEpilogueAndBoundaryBytesInsideContent() throws {
        let expected = [("a", nil, "one"), ("f", "x.txt", "line\r\n--XyQ not the boundary\r\n--Xy\r\n-- XyZ\r\n\r")]
        // Whole, and one byte at a time (every split point of every delimiter), give the same parts.
        for size in [Int.max, 1, 2, 3, 7] {
            let parts = try Self.parse(Self.tricky, chunk: size)
            #expect(parts.map(\.0) == expected.map(\.0), "chunk \(size)")
            #expect(parts.map(\.1) == expected.map(\.1), "chunk \(size)")
            #expect(parts.map(\.2) == expected.map(\.2), "chunk \(size)")
        }
    }

    @Test func aBodyMayStartWithTheDelimiterAndPartsMayBeEmpty() throws {
        let parts = try Self.parse("--XyZ\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--XyZ--")
        #expect(parts.count == 1 && parts[0].0 == "e" && parts[0].2 == "")
    }

    @Test func quotedBoundaryAndRFC5987FileNames() throws {
        var parser = try MultipartParser(contentType: #"multipart/form-data; charset=utf-8; boundary="a b:c""#)
        let body =
            "--a b:c\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"naive.txt\"; filename*=UTF-8''na%C3%AFve%20%E2%82%AC.txt\r\n\r\nx\r\n--a b:c--"
        let events = try parser.feed(ByteBuffer(string: body))
        try parser.finish()
        guard case .part(let head) = events.first else {
            Issue.record("no part")
            return
        }
        #expect(head.filename == "naïve €.txt")
        #expect(head.name == "doc")
        #expect(MultipartPartHead.decodeExtendedValue("iso-8859-1'en'%E9t%E9") == "été")
    }

    @Test func errorsSayWhatIsWrongWithTheRightStatus() throws {
        func failure(_ body: String, limits: MultipartLimits = MultipartLimits()) -> HTTPError? {
            do {
                _ = try Self.parse(body, limits: limits)
                return nil
            } catch let error as MultipartError { return error.httpError } catch { return nil }
        }
        let truncated = failure("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhalf")
        #expect(truncated?.status == .badRequest)
        #expect(truncated?.message.contains("truncated") == true)
        #expect(failure("no delimiter at all")?.message.contains("no boundary delimiter") == true)
        let unnamed = failure("--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--")
        #expect(unnamed?.status == .badRequest)
        #expect(unnamed?.message.contains("part 1 has no Content-Disposition") == true)
        #expect(failure("--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--")?.status == .badRequest)
        let many = String(repeating: "--XyZ\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nv\r\n", count: 4) + "--XyZ--"
        let tooMany = failure(many, limits: MultipartLimits(maxParts: 3))
        #expect(tooMany?.status == .payloadTooLarge)
        #expect(tooMany?.message == "The multipart body has more than 3 parts (limit maxParts).")
        let bigHeader =
            "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: \(String(repeating: "p", count: 9000))\r\n\r\nx\r\n--XyZ--"
        let headers = failure(bigHeader)
        #expect(headers?.status == .payloadTooLarge)
        #expect(headers?.message == "The headers of multipart part 1 are larger than 8192 bytes (limit maxPartHeaderSize).")
        // An endless header line is refused once past the limit, without waiting for its end.
        var parser = try MultipartParser(boundary: "XyZ")
        _ = try parser.feed(ByteBuffer(string: "--XyZ\r\nX: "))
        #expect(throws: MultipartError.headersTooLarge(part: 1, limit: 8192)) {
            _ = try parser.feed(ByteBuffer(repeating: 0x61, count: 9000))
        }

        #expect(throws: MultipartError.missingBoundary) { try MultipartParser(contentType: "multipart/form-data") }
        #expect(throws: MultipartError.invalidBoundary(String(repeating: "b", count: 71))) {
            try MultipartParser(boundary: String(repeating: "b", count: 71))
        }
        #expect(MultipartError.notMultipart("text/plain").httpError.status == .unsupportedMediaType)
        #expect(throws: MultipartError.notMultipart("text/plain")) { try MultipartParser(contentType: "text/plain") }
    }

    /// Found by the Multipart fuzz target: a part header name with a byte that is not ASCII
    /// trapped in NIO's `HTTPHeaders.add` and stopped the whole process.
    @Test(arguments: ["Content-Dis\u{9A}position", "X-\u{E9}t\u{E9}", "X(y)", "X@Y"])
    func aPartHeaderNameThatIsNotATokenIsA400(name: String) throws {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\(name): v\r\n\r\nx\r\n--XyZ--"
        #expect(throws: MultipartError.malformed("a header name of part 1 has a character that is not allowed in a header name")) {
            _ = try Self.parse(body)
        }
        // Token characters other than letters and digits are fine.
        #expect(
            try Self.parse("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX-a_b.c!#$%&'*+^`|~: v\r\n\r\nx\r\n--XyZ--").map(\.2)
                == ["x"]
        )
    }

    /// Headers of exactly the limit were refused when a chunk ended inside their terminator
    /// (CRLF CR) and accepted when it did not: the answer must not depend on the chunks.
    @Test func headersOfExactlyTheLimitPassHoweverTheBodyIsSplit() throws {
        let lines = "Content-Disposition: form-data; name=\"a\"\r\n"
        let block = lines + "X: " + String(repeating: "p", count: 64 - lines.utf8.count - 5) + "\r\n"
        #expect(block.utf8.count == 64)
        let body = "--XyZ\r\n" + block + "\r\nx\r\n--XyZ--"
        let limits = MultipartLimits(maxPartHeaderSize: 64)
        for size in [1, 2, 3, 7, 64, .max] {
            #expect(try Self.parse(body, chunk: size, limits: limits).map(\.2) == ["x"], "chunks of \(size)")
        }
        var parser = try MultipartParser(boundary: "XyZ", limits: limits)
        let split = "--XyZ\r\n".utf8.count + 64 + 1  // up to the CR of the blank line
        let bytes = Array(body.utf8)
        _ = try parser.feed(ByteBuffer(bytes: bytes[..<split]))
        #expect(try parser.feed(ByteBuffer(bytes: bytes[split...])).contains(.partEnd))
        // One byte more is too large, whatever the split.
        let over = "--XyZ\r\n" + lines + "X: " + String(repeating: "p", count: 64 - lines.utf8.count - 4) + "\r\n\r\nx\r\n--XyZ--"
        for size in [1, 3, 65, .max] {
            #expect(throws: MultipartError.headersTooLarge(part: 1, limit: 64)) { _ = try Self.parse(over, chunk: size, limits: limits) }
        }
    }

    @Test func secureFilenameAsWerkzeug() {
        #expect(secureFilename("My cool movie.mov") == "My_cool_movie.mov")
        #expect(secureFilename("../../../etc/passwd") == "etc_passwd")
        #expect(secureFilename("i contain cool \u{00FC}ml\u{00E4}uts.txt") == "i_contain_cool_umlauts.txt")
        #expect(secureFilename("résumé.pdf") == "resume.pdf")
        #expect(secureFilename("CON.txt") == "_CON.txt")
        #expect(secureFilename("..") == "")
        #expect(secureFilename("C:\\Windows\\evil.exe") == "C_Windows_evil.exe")
    }
}

@Suite struct MultipartFormTests {
    struct Profile: Decodable {
        let name: String
        let tags: [String]
        let avatar: UploadedFile
        let extra: UploadedFile?
    }

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-uploads-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func leftovers(_ directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? ["<directory missing>"]
    }

    @Test func formFieldsFilesAndDecode() async throws {
        let app = App()
        app.post("/profile") { req in
            let profile = try req.decode(Profile.self)
            let bytes = try profile.avatar.bytes()
            return
                "\(profile.name) \(profile.tags) \(profile.avatar.filename) \(profile.avatar.contentType ?? "-") \(bytes.readableBytes) \(profile.extra == nil) form=\(req.form["name"] ?? "-") files=\(req.files.count)"
        }
        let response = await app.test.post(
            "/profile",
            multipart: [
                .field("name", "Ann"), .field("tags", "a"), .field("tags", "b"),
                .file("avatar", filename: "me.png", contentType: "image/png", [0x89, 0x50, 0x4E, 0x47, 13, 10, 45, 45]),
                .file("extra", filename: "", contentType: "application/octet-stream", []),
            ]
        )
        #expect(response.status == .ok)
        #expect(response.text == "Ann [\"a\", \"b\"] me.png image/png 8 true form=Ann files=2")
    }

    @Test func aTextFieldWhereAFileIsExpectedIsA400() async throws {
        let app = App()
        app.post("/profile") { req in
            _ = try req.decode(Profile.self)
            return "ok"
        }
        let response = await app.test.post(
            "/profile",
            multipart: [.field("name", "Ann"), .field("tags", "a"), .field("avatar", "not a file")]
        )
        #expect(response.status == .badRequest)
        #expect(response.text.contains("expected a file"), "\(response.text)")
    }

    @Test func largeFilesAreSpooledAndRemovedWhenTheRequestEnds() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let app = App()
        app.maxBodySize = 4 << 20
        let limits = MultipartLimits(spoolThreshold: 1000, temporaryDirectory: directory)
        app.post("/upload", body: .multipart(limits)) { req in
            let file = try #require(req.file("doc"))
            let path = try #require(file.temporaryPath)
            let onDisk = try Data(contentsOf: URL(fileURLWithPath: path))
            return "\(file.size) \(onDisk.count) \(Self.leftovers(directory).count) small=\(req.file("small")?.temporaryPath == nil)"
        }
        let big = (0..<300_000).map { UInt8($0 % 251) }
        let response = await app.test.post(
            "/upload",
            multipart: [.file("doc", filename: "big.bin", big), .file("small", filename: "s.txt", text: "hi")]
        )
        #expect(response.text == "300000 300000 1 small=true")
        #expect(Self.leftovers(directory) == [])
    }

    @Test func everyLimitIsA413NamingItAndLeavesNoTemporaryFile() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let app = App()
        app.maxBodySize = 1 << 20
        let base = MultipartLimits(spoolThreshold: 100, temporaryDirectory: directory)
        var fieldLimit = base
        fieldLimit.maxFieldSize = 10
        var partLimit = base
        partLimit.maxParts = 2
        var totalLimit = base
        totalLimit.maxTotalSize = 50_000
        app.post("/field", body: .multipart(fieldLimit)) { _ in "ok" }
        app.post("/parts", body: .multipart(partLimit)) { _ in "ok" }
        app.post("/total", body: .multipart(totalLimit)) { _ in "ok" }
        app.post("/app", body: .multipart(base)) { _ in "ok" }
        app.post("/collect") { req in "\(req.files.count)" }
        let file = MultipartTestPart.file("f", filename: "f.bin", [UInt8](repeating: 7, count: 60_000))
        let cases: [(String, [MultipartTestPart], String)] = [
            (
                "/field", [file, .field("note", "more than ten bytes")],
                "The multipart field 'note' is larger than 10 bytes (limit maxFieldSize)."
            ),
            ("/parts", [file, file, file], "The multipart body has more than 2 parts (limit maxParts)."),
            ("/total", [file], "The multipart body is larger than 50000 bytes (limit maxTotalSize)."),
        ]
        for (path, parts, message) in cases {
            let response = await app.test.post(path, multipart: parts)
            #expect(response.status == .payloadTooLarge, "\(path)")
            #expect(response.text.contains(message), "\(path): \(response.text)")
            #expect(Self.leftovers(directory) == [], "\(path)")
        }
        // The app's body limit is the default total on routes that collect the form.
        let huge = MultipartTestPart.file("f", filename: "f.bin", [UInt8](repeating: 7, count: (1 << 20) + 1))
        #expect(await app.test.post("/app", multipart: [huge]).status == .payloadTooLarge)
        #expect(await app.test.post("/collect", multipart: [huge]).status == .payloadTooLarge)
        #expect(Self.leftovers(directory) == [])
        // Another content type where multipart is required: 415; bad bodies: 400.
        let plain = await app.test.post("/app", "hello")
        #expect(plain.status == .unsupportedMediaType)
        #expect(plain.text.contains("Expected a body of type multipart/form-data, got text/plain."))
        let truncated = await app.test.request(
            .POST,
            "/app",
            headers: ["content-type": "multipart/form-data; boundary=B"],
            body: ByteBuffer(
                string: "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n" + String(repeating: "x", count: 5000)
            )
        )
        #expect(truncated.status == .badRequest)
        #expect(truncated.text.contains("truncated"))
        #expect(Self.leftovers(directory) == [])
        // An error after a file was spooled removes the file too: a later part's headers past
        // their limit (413), a part without a name, a malformed header line (400).
        let spooled =
            "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n" + String(repeating: "x", count: 5000) + "\r\n"
        let afterAFile: [(String, HTTPStatus, String)] = [
            (
                "--B\r\nContent-Disposition: form-data; name=\"g\"\r\nX-Pad: \(String(repeating: "p", count: 9000))\r\n\r\nx\r\n--B--",
                .payloadTooLarge, "(limit maxPartHeaderSize)"
            ),
            ("--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--", .badRequest, "part 2 has no Content-Disposition"),
            ("--B\r\nno colon here\r\n\r\nx\r\n--B--", .badRequest, "part 2"),
        ]
        for (tail, status, message) in afterAFile {
            let response = await app.test.request(
                .POST,
                "/app",
                headers: ["content-type": "multipart/form-data; boundary=B"],
                body: ByteBuffer(string: spooled + tail)
            )
            #expect(response.status == status, "\(message): \(response.text)")
            #expect(response.text.contains(message), "\(response.text)")
            #expect(Self.leftovers(directory) == [], "\(message)")
        }
        let noBoundary = await app.test.request(
            .POST,
            "/app",
            headers: ["content-type": "multipart/form-data"],
            body: ByteBuffer(string: "x")
        )
        #expect(noBoundary.status == .badRequest)
        #expect(noBoundary.text.contains("no boundary parameter"))
    }

    @Test func aStreamedRouteReadsEachPartAsItArrives() async throws {
        let app = App()
        app.post("/parts", body: .stream) { req in
            var lines: [String] = []
            for try await part in try req.multipartParts() {
                var size = 0
                for try await chunk in part.body { size += chunk.readableBytes }
                lines.append("\(part.name):\(part.filename ?? "-"):\(size)")
            }
            return lines.joined(separator: ",")
        }
        let response = await app.test.post(
            "/parts",
            multipart: [.field("a", "123"), .file("b", filename: "b.bin", [UInt8](repeating: 1, count: 70_000))]
        )
        #expect(response.text == "a:-:3,b:b.bin:70000")
    }
}

@Suite struct ResponseFileTests {
    @Test func downloadNameRangesConditionalAndHead() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-file-\(UUID().uuidString).data").path
        try Data((0..<10_000).map { UInt8($0 % 256) }).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let app = App()
        app.get("/report") { req in try Response.file(at: path, downloadName: "Rapport d’été.pdf", for: req) }
        app.get("/inline") { req in try Response.file(at: path, contentType: "text/plain", for: req) }
        app.get("/missing") { req in try Response.file(at: path + ".nope", for: req) }
        let whole = await app.test.get("/report")
        #expect(whole.status == .ok)
        #expect(whole.body.readableBytes == 10_000)
        #expect(whole.header("content-type") == "application/pdf")
        #expect(
            whole.header("content-disposition") == "attachment; filename=\"Rapport d_été.pdf\"".replacingOccurrences(of: "été", with: "_t_")
                + "; filename*=UTF-8''Rapport%20d%E2%80%99%C3%A9t%C3%A9.pdf"
        )
        let etag = try #require(whole.header("etag"))
        #expect(await app.test.get("/report", headers: ["if-none-match": etag]).status == .notModified)
        let part = await app.test.get("/report", headers: ["range": "bytes=100-199"])
        #expect(part.status == .partialContent)
        #expect(part.header("content-range") == "bytes 100-199/10000")
        #expect(Array(part.body.readableBytesView) == (100..<200).map { UInt8($0) })
        #expect(await app.test.get("/report", headers: ["range": "bytes=20000-"]).status == .rangeNotSatisfiable)
        let head = await app.test.head("/inline")
        #expect(head.status == .ok && head.body.readableBytes == 0)
        #expect(head.header("content-type") == "text/plain")
        #expect(head.header("content-disposition") == nil)
        #expect(await app.test.get("/missing").status == .notFound)
    }
}
