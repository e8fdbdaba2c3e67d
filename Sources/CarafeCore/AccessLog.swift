import CarafeHTTP
import Foundation
import NIOCore
import Synchronization

/// Writes one line per request, as Gunicorn's access log does; by default in Apache's combined
/// format (`AccessLogFormat.default`):
///
///     127.0.0.1 - - [23/Nov/2026:09:06:38 +0000] "GET /users/1 HTTP/1.1" 200 13 "-" "curl/8.0"
///
/// Each line is one `write(2)` to a file opened for appending (`LogFile`), so lines from several
/// threads or processes never interleave. The values of atoms are escaped (quotes, backslashes,
/// control characters), so a client cannot forge a line.
public final class AccessLog: Sendable {
    private let file: LogFile
    /// What each line says.
    public let format: AccessLogFormat

    /// Logs to `path`, or to standard output for "-", in `format`.
    public init(path: String, format: AccessLogFormat = .default) throws(LogFileError) {
        self.file = try LogFile(path: path, kind: "access log")
        self.format = format
    }

    /// Opens the file at its path again, after logrotate renamed it (USR1).
    public func reopen() throws(LogFileError) {
        try self.file.reopen()
    }

    /// Writes lines made elsewhere (the master writes those of the requests a worker had in
    /// flight when it was killed for `--timeout`), each with its newline added.
    package func write(lines: [String]) {
        for line in lines { self.file.write(line + "\n") }
    }

    func log(_ request: Request, _ response: Response, bytes: Int) {
        self.file.write(Self.line(request, response, bytes: bytes, format: self.format))
    }

    /// The line for a request and its response in `format`, newline included; the request time
    /// runs from the request's arrival to `end`.
    static func line(
        _ request: Request,
        _ response: Response,
        bytes size: Int,
        format: AccessLogFormat = .default,
        now: Int = Int(time(nil)),
        end: ContinuousClock.Instant = .now
    ) -> String {
        if format.isJSON { return Self.jsonLine(request, response, bytes: size, now: now, end: end) }
        var line = ""
        for segment in format.segments {
            switch segment {
            case .text(let text): line += text
            case .atom(let atom): line += quoted(value(atom, request, response, size, now, end))
            }
        }
        return line + "\n"
    }

    private static func value(
        _ atom: AccessLogFormat.Atom,
        _ request: Request,
        _ response: Response,
        _ size: Int,
        _ now: Int,
        _ end: ContinuousClock.Instant
    ) -> String {
        var version: String { "HTTP/\(request.version.major).\(request.version.minor)" }
        var microseconds: Int64 { TimeAmount(end - request.startedAt).nanoseconds / 1000 }
        return switch atom {
        case .remoteAddress: request.remoteAddress?.ipAddress ?? "-"
        case .ident, .user: "-"
        case .time: "[\(HTTPDate.formatCommonLog(now))]"
        case .requestLine: "\(request.method.rawValue) \(request.uri) \(version)"
        case .method: request.method.rawValue
        case .path: request.path
        case .query: request.queryString
        case .protocolVersion: version
        case .status: String(response.status.code)
        case .bytes: String(size)
        case .bytesOrDash: size == 0 ? "-" : String(size)
        case .referer: request.headers.first(name: "referer") ?? "-"
        case .userAgent: request.headers.first(name: "user-agent") ?? "-"
        case .seconds: String(microseconds / 1_000_000)
        case .milliseconds: String(microseconds / 1000)
        case .microseconds: String(microseconds)
        case .decimalSeconds: String(format: "%.6f", Double(microseconds) / 1_000_000)
        case .environment(let name): ProcessInfo.processInfo.environment[name] ?? "-"
        case .pid: "<\(getpid())>"
        case .requestHeader(let name): request.headers.first(name: name) ?? "-"
        case .responseHeader(let name): response.headers.first(name: name) ?? "-"
        }
    }

    /// The JSON line (`AccessLogFormat.json`): every string escaped per RFC 8259 (quotes,
    /// backslashes, control characters as `\u00XX`; DEL and C1 too, so a terminal shows the
    /// line as it is), so a client cannot break or forge it. A path whose escapes were not
    /// valid UTF-8 is logged as sent (`%FF`), so the line is always valid UTF-8.
    static func jsonLine(_ request: Request, _ response: Response, bytes: Int, now: Int, end: ContinuousClock.Instant) -> String {
        let milliseconds = (end - request.startedAt) / .milliseconds(1)
        func string(_ value: String?) -> String { value.map { "\"" + jsonEscaped($0) + "\"" } ?? "null" }
        let fields: [(String, String)] = [
            ("time", string(HTTPDate.formatCommonLog(now))),
            ("remote", string(request.remoteAddress?.ipAddress)),
            ("method", string(request.method.rawValue)),
            ("path", string(request.path)),
            ("query", string(request.queryString)),
            ("protocol", string("HTTP/\(request.version.major).\(request.version.minor)")),
            ("status", String(response.status.code)),
            ("bytes", String(bytes)),
            ("duration_ms", String(format: "%.3f", milliseconds)),
            ("request_id", string(request.id)),
            ("route", string(request.route?.pattern.description)),
            ("worker", request.services.logger[metadataKey: "worker"].map { string("\($0)") } ?? "null"),
            ("pid", String(getpid())),
            ("user_agent", string(request.headers.first(name: "user-agent"))),
            ("referer", string(request.headers.first(name: "referer"))),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}\n"
    }

    /// `text` as the inside of a JSON string.
    static func jsonEscaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
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
