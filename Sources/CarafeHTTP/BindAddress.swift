import NIOCore

/// A listening address as written on the command line: `HOST:PORT`, `[IPv6]:PORT`, `:PORT`,
/// `unix:/path/to.sock`, or `fd://N`.
public enum BindAddress: Sendable, Hashable, CustomStringConvertible {
    case hostPort(host: String, port: Int)
    case unixDomainSocket(path: String)
    /// A socket that is already bound and listening, inherited as descriptor N (from a
    /// supervising master, systemd's socket activation, or any parent process).
    case fileDescriptor(Int32)

    /// Parses `127.0.0.1:8000`, `[::1]:8000`, `localhost:80`, `:8000` (all IPv4 interfaces),
    /// `8000`, `unix:/run/app.sock`, or `fd://3`.
    public init(parsing text: String) throws {
        if text.hasPrefix("fd://") {
            guard let fd = Int32(text.dropFirst(5)), fd >= 0 else {
                throw BindAddressError(text: text, reason: "'\(text.dropFirst(5))' is not a file descriptor number")
            }
            self = .fileDescriptor(fd)
            return
        }
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw BindAddressError(text: text, reason: "the socket path is empty") }
            self = .unixDomainSocket(path: path)
            return
        }
        var host = "127.0.0.1"
        var portText = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw BindAddressError(text: text, reason: "an IPv6 address needs a closing ']'")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            guard !host.isEmpty else { throw BindAddressError(text: text, reason: "the brackets hold no IPv6 address") }
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw BindAddressError(text: text, reason: "expected ':PORT' after ']'") }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            let hostPart = text[..<colon]
            host = hostPart.isEmpty ? "0.0.0.0" : String(hostPart)
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw BindAddressError(text: text, reason: "'\(portText)' is not a port number (0-65535)")
        }
        self = .hostPort(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .hostPort(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixDomainSocket(let path): "unix:\(path)"
        case .fileDescriptor(let fd): "fd://\(fd)"
        }
    }
}

/// A `--bind` value that could not be understood.
public struct BindAddressError: Error, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "invalid bind address '\(text)': \(reason)" }
}
