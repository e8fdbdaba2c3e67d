import Carafe
import CarafeDatabase
import CarafeMustache
import CarafeSessions
import Foundation

/// Users' pictures: uploaded on the settings page (`POST /settings/avatar`, a multipart form),
/// checked, stored under a name the server chooses, and served back with `Response.file`
/// (ETag, 304, Range) from `/avatars/NAME`.
///
/// A picture is at most `maxSize` bytes and a PNG, JPEG, GIF or WebP image by its first bytes:
/// the client's file name and `Content-Type` are not trusted for anything. A refused upload
/// shows the form again with the reason (422) and leaves no file: the framework removes its
/// temporary file when the request ends, and nothing was written to the avatar directory.
struct Avatars: Sendable {
    /// Where the pictures are kept (`AVATAR_DIRECTORY`; by default beside the SQLite file).
    let directory: String
    static let maxSize = 1 << 20
    /// The multipart body's own limit, past which the framework answers 413 before the app
    /// sees it; between `maxSize` and this, the form says how large the file was.
    static let maxBodySize = 8 << 20

    /// The image types accepted, by their magic bytes.
    enum Kind: String {
        case png, jpg, gif, webp

        init?(magic bytes: [UInt8]) {
            func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
                bytes.count >= offset + prefix.count && Array(bytes[offset..<offset + prefix.count]) == prefix
            }
            if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
                self = .png
            } else if starts([0xFF, 0xD8, 0xFF]) {
                self = .jpg
            } else if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) {
                self = .gif
            } else if starts(Array("RIFF".utf8)), starts(Array("WEBP".utf8), at: 8) {
                self = .webp
            } else {
                return nil
            }
        }

        var contentType: String {
            switch self {
            case .png: "image/png"
            case .jpg: "image/jpeg"
            case .gif: "image/gif"
            case .webp: "image/webp"
            }
        }
    }

    func register(on app: App) {
        app.get("/settings", name: "settings") { req in try await self.settingsPage(req) }
        app.post("/settings/avatar", body: .multipart(MultipartLimits(maxTotalSize: Self.maxBodySize))) { req in
            try await self.upload(req)
        }
        app.get("/avatars/:avatar", name: "avatar") { req in try self.serve(req) }
    }

    func settingsPage(_ req: Request, extra: [String: Any] = [:], status: HTTPStatus = .ok) async throws -> Response {
        let viewer = try req.requireUser(Viewer.self)
        guard let profile = try await Queries.profile(req.db, id: viewer.id, viewer: nil) else {
            throw HTTPError(.notFound, "There is no such user.")
        }
        let context = req.page(["profile": Pages.context(profile), "title": "Settings", "max_avatar_size": Formatting.bytes(Self.maxSize)])
        return try req.render("settings", context.merging(extra) { _, new in new }, status: status).makeResponse(for: req)
    }

    func upload(_ req: Request) async throws -> Response {
        let viewer = try req.requireUser(Viewer.self)
        func refuse(_ message: String) async throws -> Response {
            try await self.settingsPage(
                req,
                extra: ValidationFailure(field: "avatar", message).templateContext(values: [:]),
                status: .unprocessableEntity
            )
        }
        guard let file = req.file("avatar"), file.size > 0 else { return try await refuse("Choose a picture to upload.") }
        guard file.size <= Self.maxSize else {
            return try await refuse("The picture has \(Formatting.bytes(file.size)); at most \(Formatting.bytes(Self.maxSize)) is allowed.")
        }
        guard let kind = Kind(magic: try Self.firstBytes(of: file, count: 12)) else {
            return try await refuse(
                "The picture must be a PNG, JPEG, GIF or WebP image; this file is none of them (whatever its name says)."
            )
        }
        // The server's name: the user's id and 16 random hex digits. A new name for each
        // upload, so that caches may keep a picture for ever.
        let name = "\(viewer.id)-\(String(format: "%016llx", UInt64.random(in: .min ... .max))).\(kind.rawValue)"
        let path = (self.directory as NSString).appendingPathComponent(name)
        do {
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
            try file.save(to: path)
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            req.logger.error("cannot store an avatar in \(self.directory): \(error)")
            throw HTTPError(.internalServerError, "The picture could not be stored.")
        }
        let old = try await Queries.setAvatar(req.db, userId: viewer.id, to: name)
        if let old, old != name, Self.isStoredName(old) {
            try? FileManager.default.removeItem(atPath: (self.directory as NSString).appendingPathComponent(old))
        }
        req.flash("Your picture is up.", category: "success")
        return Response.redirect(to: try req.url(for: "settings"), status: .seeOther)
    }

    /// `GET /avatars/NAME`: only names the server gives (so no path of the client's reaches
    /// the file system), with the type of the stored kind.
    func serve(_ req: Request) throws -> Response {
        let name = req.parameters["avatar"] ?? ""
        guard Self.isStoredName(name), let kind = name.split(separator: ".").last.flatMap({ Kind(rawValue: String($0)) }) else {
            throw HTTPError(.notFound, "There is no picture \(name).")
        }
        var response = try Response.file(
            at: (self.directory as NSString).appendingPathComponent(name),
            contentType: kind.contentType,
            for: req
        )
        response.headers.replaceOrAdd(name: "Cache-Control", value: "public, max-age=31536000, immutable")
        response.headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        return response
    }

    /// `7-0123456789abcdef.png`: what `upload` names files.
    static func isStoredName(_ name: String) -> Bool {
        name.range(of: #"^[0-9]+-[0-9a-f]{16}\.(png|jpg|gif|webp)$"#, options: .regularExpression) != nil
    }

    static func firstBytes(of file: UploadedFile, count: Int) throws -> [UInt8] {
        switch file.storage {
        case .memory(let buffer):
            return Array(buffer.readableBytesView.prefix(count))
        case .file(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw HTTPError(.internalServerError, "The upload could not be read.")
            }
            defer { try? handle.close() }
            return Array(try handle.read(upToCount: count) ?? Data())
        }
    }
}
