import Foundation
import ProcessTestSupport
import Testing

/// hello's `POST /multipart` over a real socket: curl -F, Python requests, hand-built bodies,
/// and the limits.
@Suite struct HelloMultipartTests {
    struct Part: Decodable, Equatable {
        let name: String
        let filename: String?
        let content_type: String?
        let size: Int
        let sha256: String
    }

    static func post(_ port: Int, body: Data, boundary: String, extra: [String] = []) throws -> (status: String, text: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hello-multipart-\(UUID().uuidString)")
        try body.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let output = try curl(
            [
                "-w", "\n%{http_code}", "-H", "Content-Type: multipart/form-data; boundary=\(boundary)", "--data-binary", "@\(file.path)",
            ] + extra + ["http://127.0.0.1:\(port)/multipart"]
        )
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
    }

    static func sha256(_ data: Data) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hello-sha-\(UUID().uuidString)")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return String(try runProcess("/usr/bin/sha256sum", [file.path]).output.prefix(64))
    }

    @Test func curlFormUploadsAreHashedPartByPart() throws {
        let server = try HelloCommandLineTests.startServer([])
        let directory = try makeTemporaryDirectory("hello-curl-F")
        defer { try? FileManager.default.removeItem(at: directory) }
        let content = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) })
        let file = directory.appendingPathComponent("photo.jpg")
        try content.write(to: file)
        let output = try curl([
            "-F", "caption=Sunset", "-F", "photo=@\(file.path);type=image/jpeg", "http://127.0.0.1:\(server.port)/multipart",
        ])
        let parts = try JSONDecoder().decode([Part].self, from: Data(output.utf8))
        #expect(
            parts == [
                Part(name: "caption", filename: nil, content_type: nil, size: 6, sha256: try Self.sha256(Data("Sunset".utf8))),
                Part(
                    name: "photo",
                    filename: "photo.jpg",
                    content_type: "image/jpeg",
                    size: content.count,
                    sha256: try Self.sha256(content)
                ),
            ]
        )
    }

    @Test func pythonRequestsFiles() throws {
        let server = try HelloCommandLineTests.startServer([])
        #expect(try runClientScript("multipart_requests.py", ["http://127.0.0.1:\(server.port)"]).contains("ok"))
    }

    @Test func handBuiltBodiesAndTheirErrors() throws {
        let server = try HelloCommandLineTests.startServer([])
        // Preamble, epilogue, a quoted boundary, the boundary's bytes inside the content, filename*=.
        let inside = "a\r\n--b \"q\r\n--b Q\r\nx--b q\r\n--b"
        let body =
            "This is the preamble.\r\n--b q\r\nContent-Disposition: form-data; name=\"f\"; filename=\"plain.txt\"; filename*=UTF-8''%C3%A9t%C3%A9.txt\r\nContent-Type: text/plain\r\n\r\n"
            + inside + "\r\n--b q--\r\nThis is the epilogue.\r\n"
        let good = try Self.post(server.port, body: Data(body.utf8), boundary: "\"b q\"")
        #expect(good.status == "200")
        let parts = try JSONDecoder().decode([Part].self, from: Data(good.text.utf8))
        #expect(
            parts == [
                Part(
                    name: "f",
                    filename: "été.txt",
                    content_type: "text/plain",
                    size: inside.utf8.count,
                    sha256: try Self.sha256(Data(inside.utf8))
                )
            ]
        )

        let truncated = try Self.post(
            server.port,
            body: Data("--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nhalf".utf8),
            boundary: "B"
        )
        #expect(truncated.status == "400")
        #expect(truncated.text.contains("truncated"))
        let unnamed = try Self.post(server.port, body: Data("--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--".utf8), boundary: "B")
        #expect(unnamed.status == "400")
        #expect(unnamed.text.contains("part 1 has no Content-Disposition: form-data with a name"))
        let badBoundary = try Self.post(server.port, body: Data("x".utf8), boundary: String(repeating: "z", count: 80))
        #expect(badBoundary.status == "400")
        let many = String(repeating: "--B\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nv\r\n", count: 1001) + "--B--"
        let tooMany = try Self.post(server.port, body: Data(many.utf8), boundary: "B")
        #expect(tooMany.status == "413")
        #expect(tooMany.text.contains("more than 1000 parts (limit maxParts)"))
        let bigHeaders =
            "--B\r\nContent-Disposition: form-data; name=\"p\"\r\nX-Pad: \(String(repeating: "x", count: 10_000))\r\n\r\nv\r\n--B--"
        let headers = try Self.post(server.port, body: Data(bigHeaders.utf8), boundary: "B")
        #expect(headers.status == "413")
        #expect(headers.text.contains("larger than 8192 bytes (limit maxPartHeaderSize)"))
        // The server still serves after every error.
        #expect(try curl(["http://127.0.0.1:\(server.port)/plaintext"]) == "Hello, World!")
    }
}
