import CarafeHTTP
import Foundation
import NIOPosix
import Synchronization

/// A `multipart/form-data` form, collected: its text fields and its files, in order.
///
/// Routes that collect their body (the default) get it as `req.multipartForm` (and its text
/// fields in `req.form`, its files in `req.files`) when the request is multipart, parsed as it
/// arrives: files past `MultipartLimits.spoolThreshold` go to temporary files, removed when the
/// request ends.
public struct MultipartForm: Sendable {
    /// The text fields (parts without a file name), as UTF-8.
    public var fields: [(name: String, value: String)] = []
    /// The files (parts with a file name, even an empty one).
    public var files: [UploadedFile] = []

    public init(fields: [(name: String, value: String)] = [], files: [UploadedFile] = []) {
        self.fields = fields
        self.files = files
    }

    /// The first file sent in the field `name`.
    public func file(_ name: String) -> UploadedFile? {
        self.files.first { $0.fieldName == name }
    }

    /// Reads the whole form from `reader`, keeping text fields in memory (at most
    /// `limits.maxFieldSize` each) and spooling files past `limits.spoolThreshold` to temporary
    /// files registered in `uploads`, written from `pool` so that the event loop never waits on
    /// the disk.
    static func collect(
        from reader: MultipartReader,
        limits: MultipartLimits,
        uploads: TemporaryUploads,
        pool: BlockingPool
    ) async throws -> MultipartForm {
        var form = MultipartForm()
        while let head = try await reader.nextPart() {
            if head.filename == nil {
                var value = ByteBuffer()
                while var chunk = try await reader.nextChunk() {
                    guard value.readableBytes + chunk.readableBytes <= limits.maxFieldSize else {
                        throw MultipartError.fieldTooLarge(name: head.name, limit: limits.maxFieldSize)
                    }
                    value.writeBuffer(&chunk)
                }
                form.fields.append((head.name, String(decoding: value.readableBytesView, as: UTF8.self)))
                continue
            }
            var memory = ByteBuffer()
            var spool: SpoolFile?
            var size = 0
            while var chunk = try await reader.nextChunk() {
                size += chunk.readableBytes
                if spool == nil && memory.readableBytes + chunk.readableBytes > limits.spoolThreshold {
                    let file = try SpoolFile(directory: limits.temporaryDirectory)
                    uploads.add(file.path)
                    spool = file
                }
                memory.writeBuffer(&chunk)
                if let spool, memory.readableBytes >= 256 * 1024 {
                    let batch = memory
                    memory = ByteBuffer()
                    try await pool.runIfActive { try spool.write(batch) }
                }
            }
            let storage: UploadedFile.Storage
            if let spool {
                let batch = memory
                try await pool.runIfActive {
                    try spool.write(batch)
                    spool.close()
                }
                storage = .file(path: spool.path)
            } else {
                storage = .memory(memory)
            }
            form.files.append(
                UploadedFile(
                    fieldName: head.name,
                    filename: head.filename ?? "",
                    contentType: head.contentType,
                    size: size,
                    storage: storage
                )
            )
        }
        return form
    }

    /// Parses a body already in memory (no temporary files).
    static func parse(_ body: ByteBuffer, contentType: String?, limits: MultipartLimits) throws -> MultipartForm {
        var parser = try MultipartParser(contentType: contentType, limits: limits)
        if let limit = limits.maxTotalSize, body.readableBytes > limit { throw MultipartError.bodyTooLarge(limit: limit) }
        var form = MultipartForm()
        var head: MultipartPartHead?
        var value = ByteBuffer()
        for event in try parser.feed(body) {
            switch event {
            case .part(let started):
                head = started
                value.clear()
            case .body(var bytes):
                if let head, head.filename == nil, value.readableBytes + bytes.readableBytes > limits.maxFieldSize {
                    throw MultipartError.fieldTooLarge(name: head.name, limit: limits.maxFieldSize)
                }
                value.writeBuffer(&bytes)
            case .partEnd:
                guard let head else { continue }
                if let filename = head.filename {
                    form.files.append(
                        UploadedFile(
                            fieldName: head.name,
                            filename: filename,
                            contentType: head.contentType,
                            size: value.readableBytes,
                            storage: .memory(value)
                        )
                    )
                    value = ByteBuffer()
                } else {
                    form.fields.append((head.name, String(decoding: value.readableBytesView, as: UTF8.self)))
                }
            }
        }
        try parser.finish()
        return form
    }
}

/// A temporary file a spooled upload is written to, created with `mkstemp` (mode 0600).
final class SpoolFile: Sendable {
    let path: String
    private let fd: Int32
    private let closed = Atomic(false)

    init(directory: String?) throws {
        let directory = directory ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(directory)/carafe-upload-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw HTTPError(.internalServerError, "Could not create a temporary file for an upload.")
        }
        self.fd = fd
        self.path = String(cString: template)
    }

    /// Writes all of `buffer` (blocking).
    func write(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(self.fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw HTTPError(.internalServerError, "Could not write an upload to its temporary file.")
                }
                offset += written
            }
        }
    }

    /// Closes the descriptor, once.
    func close() {
        if !self.closed.exchange(true, ordering: .relaxed) { _ = Glibc.close(self.fd) }
    }

    deinit {
        self.close()
    }
}
