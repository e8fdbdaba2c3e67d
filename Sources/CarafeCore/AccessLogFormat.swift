/// What an access-log line says, in Gunicorn's syntax (its `access_log_format`), parsed once
/// at startup:
///
/// | atom | value |
/// |---|---|
/// | `%(h)s` | remote address |
/// | `%(l)s` | `-` |
/// | `%(u)s` | user: `-` |
/// | `%(t)s` | date, `[23/Nov/2026:09:06:38 +0000]` |
/// | `%(r)s` | request line, `GET /users/1?x=1 HTTP/1.1` |
/// | `%(m)s`, `%(U)s`, `%(q)s`, `%(H)s` | method, path (decoded), query string, protocol |
/// | `%(s)s` | status |
/// | `%(B)s`, `%(b)s` | body length; `b` is `-` for 0 |
/// | `%(f)s`, `%(a)s` | referer, user agent (`-` if absent) |
/// | `%(T)s`, `%(M)s`, `%(D)s` | request time in whole seconds, milliseconds, microseconds |
/// | `%(p)s` | the serving process's pid, as Gunicorn writes it: `<4738>` |
/// | `%({name}i)s`, `%({name}o)s` | a request, response header (`-` if absent) |
/// | `%%` | `%` |
///
/// Atoms' values are escaped as `AccessLog` says; the text around them is written as given.
public struct AccessLogFormat: Sendable, Equatable, CustomStringConvertible {
    enum Atom: Equatable {
        case remoteAddress, ident, user, time, requestLine, method, path, query, protocolVersion, status
        case bytes, bytesOrDash, referer, userAgent, seconds, milliseconds, microseconds, pid
        case requestHeader(String), responseHeader(String)
    }

    enum Segment: Equatable {
        case text(String)
        case atom(Atom)
    }

    /// The format as given.
    public let description: String
    let segments: [Segment]

    /// Gunicorn's default, Apache's combined format:
    /// `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`.
    public static let `default` = try! AccessLogFormat(#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#)
    /// The default followed by ` %(p)s`, the pid of the worker that served: what `serve --workers`
    /// writes when `--access-logformat` is not given.
    public static let defaultWithPID = try! AccessLogFormat(Self.default.description + " %(p)s")

    private static let atoms: [Character: Atom] = [
        "h": .remoteAddress, "l": .ident, "u": .user, "t": .time, "r": .requestLine, "m": .method, "U": .path,
        "q": .query, "H": .protocolVersion, "s": .status, "B": .bytes, "b": .bytesOrDash, "f": .referer,
        "a": .userAgent, "T": .seconds, "M": .milliseconds, "D": .microseconds, "p": .pid,
    ]

    /// Parses `format`; an unknown atom, or a `%` that starts none, is an error.
    public init(_ format: String) throws(AccessLogFormatError) {
        var segments: [Segment] = []
        var text = ""
        var rest = Substring(format)
        while let percent = rest.firstIndex(of: "%") {
            text += rest[..<percent]
            rest = rest[rest.index(after: percent)...]
            if rest.first == "%" {
                text += "%"
                rest = rest.dropFirst()
                continue
            }
            guard rest.first == "(", let close = rest.firstIndex(of: ")"), rest[close...].dropFirst().first == "s" else {
                throw AccessLogFormatError(format: format, problem: "a '%' must start an atom such as %(h)s, or be doubled (%%)")
            }
            let name = rest[rest.index(after: rest.startIndex)..<close]
            guard let atom = Self.atom(named: name) else {
                throw AccessLogFormatError(format: format, problem: "unknown atom %(\(name))s")
            }
            if !text.isEmpty { segments.append(.text(text)) }
            text = ""
            segments.append(.atom(atom))
            rest = rest[close...].dropFirst(2)
        }
        text += rest
        if !text.isEmpty { segments.append(.text(text)) }
        self.description = format
        self.segments = segments
    }

    private static func atom(named name: Substring) -> Atom? {
        if name.count == 1, let atom = Self.atoms[name.first!] { return atom }
        guard name.count > 3, name.first == "{", name.dropLast().last == "}" else { return nil }
        let header = String(name.dropFirst().dropLast(2))
        switch name.last {
        case "i": return .requestHeader(header)
        case "o": return .responseHeader(header)
        default: return nil
        }
    }
}

/// An `--access-logformat` that cannot be parsed.
public struct AccessLogFormatError: Error, CustomStringConvertible {
    /// The format as given.
    public var format: String
    /// What is wrong with it: "unknown atom %(x)s".
    public var problem: String
    public var description: String {
        "\(self.problem) in the access log format; the atoms are %(h)s %(l)s %(u)s %(t)s %(r)s %(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %(b)s %(f)s %(a)s %(T)s %(M)s %(D)s %(p)s %({header}i)s %({header}o)s, and %% for %"
    }
}
