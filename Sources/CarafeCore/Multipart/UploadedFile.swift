import CarafeHTTP
import Foundation
import NIOPosix
import Synchronization

/// A file sent in a `multipart/form-data` form: in memory if small, else in a temporary file
/// that is removed when the request ends (move it with `save(to:)` to keep it).
///
///     struct Avatar: Decodable { let caption: String; let image: UploadedFile }
///     let form = try req.decode(Avatar.self)
///     try form.image.save(to: "/srv/avatars/\(user.id).png")
///
/// Never build a path from `filename`: it is what the client chose (`../../etc/passwd`, say);
/// `secureFilename` is a safe version of it.
public struct UploadedFile: Sendable, Decodable {
    /// Where the bytes are.
    public enum Storage: Sendable {
        case memory(ByteBuffer)
        /// A temporary file, removed when the request ends.
        case file(path: String)
    }

    /// The form field it came in.
    public let fieldName: String
    /// The file name the client sent (see `MultipartPartHead.filename`); may be empty.
    public let filename: String
    /// The part's `Content-Type`, if it sent one.
    public let contentType: String?
    /// Its size in bytes.
    public let size: Int
    public let storage: Storage

    public init(fieldName: String, filename: String, contentType: String?, size: Int, storage: Storage) {
        self.fieldName = fieldName
        self.filename = filename
        self.contentType = contentType
        self.size = size
        self.storage = storage
    }

    /// `filename` made safe to use as a path component (`secureFilename(_:)`); may be empty.
    public var secureFilename: String { CarafeCore.secureFilename(self.filename) }

    /// The temporary file's path, when the file was spooled to disk.
    public var temporaryPath: String? {
        if case .file(let path) = self.storage { return path }
        return nil
    }

    /// The whole file in memory (read from its temporary file if spooled).
    public func bytes() throws -> ByteBuffer {
        switch self.storage {
        case .memory(let buffer): return buffer
        case .file(let path): return ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: path)))
        }
    }

    /// Writes the file to `path` (replacing what is there): a rename when it was spooled to the
    /// same file system, else a copy. Blocking: call it from a `blocking: true` route or accept
    /// the short wait for a small file.
    public func save(to path: String) throws {
        switch self.storage {
        case .memory(let buffer):
            try Data(buffer.readableBytesView).write(to: URL(fileURLWithPath: path))
        case .file(let temporary):
            if rename(temporary, path) != 0 {
                let data = try Data(contentsOf: URL(fileURLWithPath: temporary))
                try data.write(to: URL(fileURLWithPath: path))
            }
        }
    }

    /// Decodes from a form field that `Request.decode` filled with a file: a text field where a
    /// file is expected is a `typeMismatch`.
    public init(from decoder: any Decoder) throws {
        let token = try decoder.singleValueContainer().decode(String.self)
        guard let file = UploadedFile.decoding?.files[token] else {
            throw DecodingError.typeMismatch(
                UploadedFile.self,
                .init(codingPath: decoder.codingPath, debugDescription: "expected a file, got a text field")
            )
        }
        self = file
    }

    /// The files of the form being decoded, by the token that stands for each in its field.
    @TaskLocal static var decoding: FileTable?

    final class FileTable: Sendable {
        let files: [String: UploadedFile]
        init(_ files: [String: UploadedFile]) { self.files = files }
    }
}

/// The temporary files of one request, removed when it ends (and, failing that, when the
/// request is released).
final class TemporaryUploads: Sendable {
    private let paths = Mutex<[String]>([])

    func add(_ path: String) {
        self.paths.withLock { $0.append(path) }
    }

    func removeAll() {
        let paths = self.paths.withLock { paths in
            defer { paths = [] }
            return paths
        }
        for path in paths { unlink(path) }
    }

    deinit {
        self.removeAll()
    }
}

extension TemporaryUploads {
    /// `body`, after which the files are removed: now for a body in memory, once a stream has
    /// been written (a handler may stream an upload back).
    func removing(after body: ResponseBody, method: HTTPMethod) -> ResponseBody {
        guard case .stream(let length, let produce) = body, method != .HEAD else {
            self.removeAll()
            return body
        }
        return .stream(length: length) { writer in
            defer { self.removeAll() }
            try await produce(writer)
        }
    }
}
