import Carafe
import Foundation
import Testing

@testable import CarafeHTTP

/// Uploads that a route collects (files spooled past the threshold) through a real server,
/// with curl: the temporary files are gone once each request has ended, whatever happened.
@Suite struct UploadsOverSocketTests {
    @Test func spooledUploadsAndFailuresLeaveNoTemporaryFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-spool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("upload.source")
        let content = Data((0..<2_000_000).map { UInt8($0 % 241) })
        try content.write(to: file)
        let app = App()
        app.maxBodySize = 8 << 20
        let limits = MultipartLimits(maxTotalSize: 3_000_000, temporaryDirectory: directory.path)
        app.post("/save", body: .multipart(limits)) { req in
            let upload = try #require(req.file("doc"))
            let spooled = upload.temporaryPath.map { FileManager.default.fileExists(atPath: $0) } ?? false
            return "\(upload.filename) \(upload.size) spooled=\(spooled) title=\(req.form["title"] ?? "-")"
        }
        app.get("/download") { req in try Response.file(at: file.path, downloadName: "data.bin", for: req) }
        func leftovers() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("carafe-upload-") }
        }
        try await withTestServer(responder: app) { server in
            let ok = try await curl(["-s", "-F", "title=Report", "-F", "doc=@\(file.path)", server.baseURL + "/save"])
            #expect(ok.output == "upload.source 2000000 spooled=true title=Report")
            #expect(try leftovers() == [])
            // Past the route's total: 413 naming it, and the partly written file is removed.
            let twice = try await curl([
                "-s", "-w", " %{http_code}", "-F", "a=@\(file.path)", "-F", "b=@\(file.path)", server.baseURL + "/save",
            ])
            #expect(twice.output.hasSuffix(" 413"), "\(twice.output)")
            #expect(twice.output.contains("larger than 3000000 bytes (limit maxTotalSize)"))
            #expect(try leftovers() == [])
            // Not multipart where the route requires it: 415.
            let plain = try await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-d", "x=1", server.baseURL + "/save"])
            #expect(plain.output == "415")
            // Response.file: a download with its name, and a range.
            let head = try await curl(["-s", "-D", "-", "-o", "/dev/null", "-r", "0-99", server.baseURL + "/download"])
            #expect(head.output.hasPrefix("HTTP/1.1 206"))
            #expect(head.output.lowercased().contains("content-disposition: attachment; filename=\"data.bin\"; filename*=utf-8''data.bin"))
            #expect(head.output.lowercased().contains("content-length: 100"))
        }
    }
}
