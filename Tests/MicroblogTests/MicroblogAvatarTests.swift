import Foundation
import ProcessTestSupport
import Testing

/// The microblog's pictures over real sockets with curl -F: checked by their first bytes and
/// size, stored under the server's name, served back with ETag and 304, shown on the profile,
/// the settings page and beside posts; a refused upload shows the form's error and leaves no
/// file behind, in the avatar directory or the temporary one.
@Suite struct MicroblogAvatarTests {
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// A file of `magic` then `size - magic.count` patterned bytes.
    static func file(in directory: URL, _ name: String, magic: [UInt8], size: Int) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(magic + (0..<(size - magic.count)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }).write(to: url)
        return url
    }

    static func files(_ directory: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    @Test func picturesAreCheckedStoredServedAndShown() throws {
        let scratch = try makeTemporaryDirectory("microblog-avatar-files")
        let uploads = scratch.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: uploads, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        // TMPDIR: where the server spools uploads past 500 KB, checked empty after each request.
        let server = try MicroblogServer(environment: ["TMPDIR": uploads.path])
        let avatars = server.directory.appendingPathComponent("microblog-avatars")
        let ann = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)
        let empty = try ann.get("/settings")
        #expect(empty.status == 200)
        #expect(empty.body.contains("No picture yet."))
        #expect(empty.body.contains(#"enctype="multipart/form-data""#) && empty.body.contains(#"type="file""#))

        // A PNG of 700 KB (spooled to a temporary file), with a hostile name and a wrong type:
        // neither is used.
        let picture = try Self.file(in: scratch, "me.png", magic: Self.png, size: 700_000)
        let stored = try ann.upload(
            "/settings",
            to: "/settings/avatar",
            field: "avatar",
            file: picture,
            filename: "../../evil.png",
            type: "text/plain"
        )
        #expect(stored.status == 303, "\(stored.body)")
        #expect(stored.header("location") == ["/settings"])
        let names = Self.files(avatars)
        #expect(names.count == 1)
        let name = try #require(names.first)
        #expect(
            name.range(of: #"^[0-9]+-[0-9a-f]{16}\.png$"#, options: .regularExpression) != nil,
            "the server's name, not the client's: \(name)"
        )
        #expect(try Data(contentsOf: avatars.appendingPathComponent(name)) == Data(contentsOf: picture))
        #expect(Self.files(uploads).isEmpty, "no temporary file left: \(Self.files(uploads))")
        #expect(!FileManager.default.fileExists(atPath: server.directory.appendingPathComponent("evil.png").path))
        let settings = try ann.get("/settings")
        #expect(settings.body.contains("Your picture is up."))
        #expect(settings.body.contains(#"<img class="avatar large" src="/avatars/\#(name)""#), "\(settings.body)")

        // Served back: the bytes, the stored kind's type, an ETag, and 304 for it.
        let download = scratch.appendingPathComponent("download")
        let served = try ann.download("/avatars/\(name)", to: download)
        #expect(served.status == 200)
        #expect(try Data(contentsOf: download) == Data(contentsOf: picture))
        #expect(served.headers.contains { $0.lowercased() == "content-type: image/png" }, "\(served.headers)")
        #expect(served.headers.contains { $0.lowercased() == "x-content-type-options: nosniff" })
        let etag = try #require(
            served.headers.first { $0.lowercased().hasPrefix("etag:") }.map { String($0.dropFirst(5)).trimmingCharacters(in: .whitespaces) }
        )
        #expect(try ann.download("/avatars/\(name)", to: download, headers: ["If-None-Match: \(etag)"]).status == 304)
        // Only names the server gives reach the file system.
        #expect(try ann.get("/avatars/..%2Fmicroblog.sqlite").status == 404)
        #expect(try ann.get("/avatars/1-0123456789abcdef.png").status == 404)

        // Beside posts (home and profile) and on the profile.
        #expect(try ann.write("with a face").status == 303)
        let home = try ann.get("/")
        #expect(
            home.body.contains(#"<img class="avatar" src="/avatars/\#(name)" alt="" width="32" height="32"> <a href="/u/ann">ann</a>"#),
            "\(home.body)"
        )
        let profile = try Browser(port: server.port).get("/u/ann")
        #expect(profile.body.contains(#"<h1><img class="avatar large" src="/avatars/\#(name)""#))
        #expect(profile.body.contains(#"<img class="avatar" src="/avatars/\#(name)""#))

        // Refused: each shows the form with the reason (422) and leaves nothing behind.
        func refused(_ file: URL, filename: String, type: String, _ message: String) throws {
            let page = try ann.upload("/settings", to: "/settings/avatar", field: "avatar", file: file, filename: filename, type: type)
            #expect(page.status == 422, "\(filename): \(page.status)")
            #expect(page.body.contains(#"<p class="field-error">\#(message)</p>"#), "\(filename): \(page.body)")
            #expect(page.body.contains(#"type="file""#), "the form again")
            #expect(Self.files(avatars) == [name], "\(filename): the picture is unchanged")
            #expect(Self.files(uploads).isEmpty, "\(filename): no temporary file left")
        }
        let text = scratch.appendingPathComponent("cat.png")
        try Data("<script>alert(1)</script>".utf8).write(to: text)
        try refused(
            text,
            filename: "cat.png",
            type: "image/png",
            "The picture must be a PNG, JPEG, GIF or WebP image; this file is none of them (whatever its name says)."
        )
        let large = try Self.file(in: scratch, "large.png", magic: Self.png, size: 1_572_864)
        try refused(large, filename: "large.png", type: "image/png", "The picture has 1.5 MiB; at most 1 MiB is allowed.")
        let nothing = scratch.appendingPathComponent("empty.png")
        try Data().write(to: nothing)
        try refused(nothing, filename: "", type: "application/octet-stream", "Choose a picture to upload.")
        // Past the form's own limit (8 MiB), the framework's 413, before the app reads it.
        let huge = try Self.file(in: scratch, "huge.png", magic: Self.png, size: 9 << 20)
        let tooLarge = try ann.upload(
            "/settings",
            to: "/settings/avatar",
            field: "avatar",
            file: huge,
            filename: "huge.png",
            type: "image/png"
        )
        #expect(tooLarge.status == 413)
        #expect(tooLarge.body.contains("limit maxTotalSize"), "\(tooLarge.body)")
        #expect(Self.files(avatars) == [name])
        #expect(Self.files(uploads).isEmpty, "no temporary file left after the 413")

        // A new picture (WebP, by its bytes; the client calls it a JPEG) replaces the old file.
        let webp = try Self.file(in: scratch, "new.jpg", magic: Array("RIFF".utf8) + [0x10, 0, 0, 0] + Array("WEBPVP8 ".utf8), size: 2_000)
        #expect(
            try ann.upload("/settings", to: "/settings/avatar", field: "avatar", file: webp, filename: "new.jpg", type: "image/jpeg").status
                == 303
        )
        let replaced = Self.files(avatars)
        #expect(replaced.count == 1 && replaced.first?.hasSuffix(".webp") == true && replaced.first != name, "\(replaced)")
        #expect(try ann.get("/avatars/\(name)").status == 404, "the old picture is gone")
        let webpServed = try ann.download("/avatars/\(replaced.first ?? "")", to: download)
        #expect(webpServed.headers.contains { $0.lowercased() == "content-type: image/webp" })
    }

    @Test func theSettingsPageNeedsALogIn() throws {
        let server = try MicroblogServer()
        let visitor = Browser(port: server.port)
        let page = try visitor.get("/settings")
        #expect(page.status == 303)
        #expect(page.header("location").first?.hasPrefix("/login") == true)
    }
}
