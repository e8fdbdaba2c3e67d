import Foundation

/// A log file that the master and its workers share: opened for appending, each line written
/// with one `write(2)` (so lines from several threads or processes never interleave), and
/// reopened at its path on USR1, after logrotate has renamed it. "-" is standard output.
public final class LogFile: Sendable {
    /// The path as given; "-" for standard output.
    public let path: String
    /// Names the log in errors: "access log".
    private let kind: String
    /// The same number for the life of the log: `reopen()` puts the new file under it.
    private let descriptor: Int32

    /// Opens `path` for appending, creating it (mode 0644) if needed; "-" is standard output.
    /// `kind` names the log in errors: "access log", "error log".
    public init(path: String, kind: String) throws(LogFileError) {
        self.path = path
        self.kind = kind
        self.descriptor = path == "-" ? STDOUT_FILENO : try Self.open(path, kind)
    }

    deinit {
        if self.path != "-" { close(self.descriptor) }
    }

    /// Writes `line` (newline included) with one `write(2)`.
    public func write(_ line: String) {
        var line = line
        line.withUTF8 { bytes in _ = Foundation.write(self.descriptor, bytes.baseAddress, bytes.count) }
    }

    /// Opens the path again and puts the new file under the log's descriptor in one step
    /// (`dup2`, which also closes the old file), so that a line written meanwhile goes to the
    /// old file or to the new one, never to a closed descriptor. After a rotation renamed the
    /// file, lines go to a new file at the path. Standard output is left as it is.
    public func reopen() throws(LogFileError) {
        guard self.path != "-" else { return }
        let fresh = try Self.open(self.path, self.kind)
        defer { close(fresh) }
        guard dup2(fresh, self.descriptor) >= 0 else {
            throw LogFileError(kind: self.kind, path: self.path, reason: String(cString: strerror(errno)))
        }
        _ = fcntl(self.descriptor, F_SETFD, FD_CLOEXEC)  // dup2 clears it
    }

    private static func open(_ path: String, _ kind: String) throws(LogFileError) -> Int32 {
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LogFileError(kind: kind, path: path, reason: String(cString: strerror(errno))) }
        return fd
    }
}

/// A log file could not be opened.
public struct LogFileError: Error, CustomStringConvertible {
    /// Which log: "access log", "error log".
    public var kind: String
    public var path: String
    /// The system's reason: "No such file or directory".
    public var reason: String
    public var description: String { "cannot open \(self.kind) '\(self.path)': \(self.reason)" }
}
