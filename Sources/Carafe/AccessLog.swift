import CarafeHTTP
import Foundation
import Synchronization

/// Writes one line per request in Apache's combined format, as Gunicorn's access log does:
///
///     127.0.0.1 - - [23/Nov/2026:09:06:38 +0000] "GET /users/1 HTTP/1.1" 200 13 "-" "curl/8.0"
///
/// Each line is one `write(2)` to a file opened for appending, so lines from several threads or
/// processes never interleave.
public final class AccessLog: Sendable {
    private let descriptor: Int32

    /// Logs to `path`, or to standard output for "-".
    public init(path: String) throws {
        if path == "-" {
            self.descriptor = STDOUT_FILENO
        } else {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw AccessLogError(path: path, reason: String(cString: strerror(errno)))
            }
            self.descriptor = fd
        }
    }

    deinit {
        if self.descriptor != STDOUT_FILENO { close(self.descriptor) }
    }

    func log(_ request: Request, _ response: Response, bytes: Int) {
        var line = Self.line(request, response, bytes: bytes)
        line.withUTF8 { bytes in _ = write(self.descriptor, bytes.baseAddress, bytes.count) }
    }

    /// The combined-format line for a request and its response, newline included.
    static func line(_ request: Request, _ response: Response, bytes size: Int, now: Int = Int(time(nil))) -> String {
        let host = request.remoteAddress?.ipAddress ?? "-"
        let version = "HTTP/\(request.version.major).\(request.version.minor)"
        return "\(host) - - [\(HTTPDate.formatCommonLog(now))] \"\(request.method.rawValue) \(quoted(request.uri)) \(version)\" "
            + "\(response.status.code) \(size == 0 ? "-" : String(size)) "
            + "\"\(quoted(request.headers.first(name: "referer") ?? "-"))\" \"\(quoted(request.headers.first(name: "user-agent") ?? "-"))\"\n"
    }

    /// `text` with quotes, backslashes and control characters escaped, so a client cannot forge lines.
    private static func quoted(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value):  // C0, DEL, C1 (NEL)
                out += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// The access log file could not be opened.
public struct AccessLogError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "cannot open access log '\(self.path)': \(self.reason)" }
}
