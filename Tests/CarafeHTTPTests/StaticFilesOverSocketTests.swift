import Carafe
import Foundation
import Testing

@testable import CarafeHTTP

/// `app.static` through a real server, with curl as the client.
@Suite struct StaticFilesOverSocketTests {
    @Test func curlGetsRangesHeadAndConditionalAnswers() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-static-socket-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let bytes = Data((0..<(1 << 20)).map { UInt8($0 % 253) })
        try bytes.write(to: root.appendingPathComponent("data.bin"))
        let app = App()
        app.static("/files", directory: root.path)
        try await withTestServer(responder: app) { server in
            let url = server.baseURL + "/files/data.bin"
            let whole = try await curl(["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url])
            #expect(whole.output == "200 \(1 << 20)")
            let part = try await curl(["-s", "-r", "1000-1999", "-D", "-", "-o", "/dev/null", url])
            #expect(part.output.hasPrefix("HTTP/1.1 206 Partial Content"))
            #expect(part.output.lowercased().contains("content-range: bytes 1000-1999/\(1 << 20)"))
            #expect(part.output.lowercased().contains("content-length: 1000"))
            let head = try await curl(["-s", "-I", url])
            #expect(head.output.lowercased().contains("content-length: \(1 << 20)"))
            let etag = head.output.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }.map {
                $0.dropFirst(5).trimmingCharacters(in: .whitespaces)
            }
            let etagValue = try #require(etag)
            let conditional = try await curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: \(etagValue)", url])
            #expect(conditional.output == "304")
            let escape = try await curl([
                "-s", "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", server.baseURL + "/files/../../etc/passwd",
            ])
            #expect(escape.output == "404")
        }
    }
}
