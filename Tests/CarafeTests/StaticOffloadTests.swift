import CarafeTesting
import Foundation
import Testing

@testable import CarafeCore

/// `app.static(…, offload:)`: Carafe checks the path, the front server sends the file.
@Suite struct StaticOffloadTests {
    let root: URL
    let app = App()

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-offload-\(UUID().uuidString)")
        self.root = base.appendingPathComponent("public")
        try FileManager.default.createDirectory(at: self.root.appendingPathComponent("a dir"), withIntermediateDirectories: true)
        try "x".write(to: self.root.appendingPathComponent("a dir/report 1.pdf"), atomically: true, encoding: .utf8)
        try "secret".write(to: base.appendingPathComponent("secret.txt"), atomically: true, encoding: .utf8)
        self.app.static("/files", directory: self.root.path, offload: .accelRedirect("/_files"))
        self.app.static("/sent", directory: self.root.path, offload: .sendfile)
    }

    @Test func accelRedirectNamesTheInternalLocation() async {
        let response = await self.app.test.get("/files/a%20dir/report%201.pdf")
        #expect(response.status == .ok)
        #expect(response.header("x-accel-redirect") == "/_files/a%20dir/report%201.pdf")
        #expect(response.header("content-type") == "application/pdf")
        #expect(response.body.readableBytes == 0)
    }

    @Test func sendfileNamesTheAbsolutePath() async {
        let response = await self.app.test.get("/sent/a%20dir/report%201.pdf")
        #expect(response.header("x-sendfile") == URL(fileURLWithPath: self.root.path).standardizedFileURL.path + "/a dir/report 1.pdf")
    }

    @Test func pathsOutOfTheDirectoryAndMissingFilesAre404WithoutAHeader() async {
        for path in ["/files/../secret.txt", "/files/%2E%2E/secret.txt", "/files/missing.pdf", "/files/a%20dir"] {
            let response = await self.app.test.get(path)
            #expect(response.status == .notFound, "\(path)")
            #expect(response.header("x-accel-redirect") == nil, "\(path)")
        }
    }
}
