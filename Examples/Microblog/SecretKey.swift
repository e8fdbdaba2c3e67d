import Foundation
import Logging

/// The key that signs session cookies: `SECRET_KEY` (see `Settings`); else the key kept in
/// `file`, made (64 random hex digits) and stored there, readable by its owner only, the first
/// time. Every worker, and every restart, then reads the same key, so sessions survive both.
/// Set `SECRET_KEY` in production: a key in a file beside the database goes wherever its backups go.
enum SecretKey {
    static func load(configured: String, file: String, logger: Logger) throws -> String {
        if !configured.isEmpty { return configured }
        if let stored = try? String(contentsOfFile: file, encoding: .utf8) {
            logger.notice("SECRET_KEY is not set: signing sessions with the key in \(file)")
            return stored.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let key = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        // O_EXCL: if another process made the file meanwhile, use its key, not this one.
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST, let stored = try? String(contentsOfFile: file, encoding: .utf8) {
                return stored.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            throw SecretKeyFileError(
                description: "SECRET_KEY is not set, and \(file) cannot be created to keep one: \(String(cString: strerror(errno)))"
            )
        }
        defer { close(fd) }
        let written = key.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, key.utf8.count) }
        guard written == key.utf8.count else {
            throw SecretKeyFileError(description: "cannot write \(file): \(String(cString: strerror(errno)))")
        }
        logger.warning("SECRET_KEY is not set: made a new key and stored it in \(file); set SECRET_KEY in production")
        return key
    }
}

struct SecretKeyFileError: Error, CustomStringConvertible {
    let description: String
}
