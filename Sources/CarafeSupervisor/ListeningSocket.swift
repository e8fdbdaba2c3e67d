import CarafeHTTP
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A socket the master binds (or inherits) and listens on, whose descriptor every worker
/// gets a copy of. Workers accept on it; the kernel queues connections in its backlog while no
/// worker accepts, so replacing workers refuses nothing.
///
/// The master keeps the descriptor at a high number (at least `firstHighDescriptor`) with
/// close-on-exec set, so that it never collides with the fixed numbers (3, 4, …) a worker gets
/// it under, and never leaks into other processes.
public struct ListeningSocket: Sendable {
    /// The master's descriptor.
    public let descriptor: Int32
    /// Where it listens, for the log: `http://127.0.0.1:8000`, `unix:/run/app.sock`.
    public let url: String
    /// The path to remove at shutdown, for a Unix socket the master created.
    let ownedPath: String?

    static let firstHighDescriptor: Int32 = 100
    /// The default backlog (`--backlog`).
    public static let backlog: Int32 = 1024

    /// The TCP port it listens on, or nil for a Unix socket.
    var port: Int? {
        guard self.url.hasPrefix("http://"), let colon = self.url.lastIndex(of: ":") else { return nil }
        return Int(self.url[self.url.index(after: colon)...])
    }

    /// Binds and listens on `address`. `umask` applies to the file of a Unix socket. With
    /// `reusePort`, a TCP socket gets `SO_REUSEPORT`, so that more sockets can bind the same
    /// address and port (see `ArbiterConfiguration.reusePort`).
    public static func bind(
        _ address: BindAddress,
        umask mask: mode_t? = nil,
        backlog: Int32 = Self.backlog,
        reusePort: Bool = false
    ) throws -> ListeningSocket {
        switch address {
        case .hostPort(let host, let port):
            let socketAddress: SocketAddress
            do {
                socketAddress = try SocketAddress.makeAddressResolvingHost(host, port: port)
            } catch {
                throw SupervisorError.bind(address.description, "\(error)")
            }
            let fd = socket(socketAddress.protocol.rawValue, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw SupervisorError.bind(address.description, String(cString: strerror(errno))) }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if reusePort { _ = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
            let bound = socketAddress.withSockAddr { pointer, size in Glibc.bind(fd, pointer, socklen_t(size)) }
            guard bound == 0, listen(fd, backlog) == 0 else {
                let reason = String(cString: strerror(errno))
                _ = Glibc.close(fd)
                throw SupervisorError.bind(address.description, reason)
            }
            let url = url(of: fd, host: host)
            return ListeningSocket(descriptor: try moveHigh(fd), url: url, ownedPath: nil)
        case .unixDomainSocket(let path):
            let socketAddress: SocketAddress
            do {
                socketAddress = try SocketAddress(unixDomainSocketPath: path)
            } catch {
                throw SupervisorError.bind(address.description, "\(error)")
            }
            // A stale socket file from an earlier run; anything else at the path is an error.
            var info = stat()
            if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK { unlink(path) }
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw SupervisorError.bind(address.description, String(cString: strerror(errno))) }
            let previous = mask.map { umask($0) }
            let bound = socketAddress.withSockAddr { pointer, size in Glibc.bind(fd, pointer, socklen_t(size)) }
            let bindErrno = errno
            if let previous { umask(previous) }
            guard bound == 0, listen(fd, backlog) == 0 else {
                let reason = String(cString: strerror(bound == 0 ? errno : bindErrno))
                _ = Glibc.close(fd)
                throw SupervisorError.bind(address.description, reason)
            }
            return ListeningSocket(descriptor: try moveHigh(fd), url: "unix:\(path)", ownedPath: path)
        case .fileDescriptor(let inherited):
            return try adopt(inherited, backlog: backlog)
        }
    }

    /// Takes over an inherited, bound socket (`fd://N`, systemd's `LISTEN_FDS`, or an old
    /// master's after USR2). With `ownsFile`, a Unix socket's file is removed at `close()`.
    public static func adopt(_ inherited: Int32, ownsFile: Bool = false, backlog: Int32 = Self.backlog) throws -> ListeningSocket {
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(inherited, SOL_SOCKET, SO_TYPE, &type, &length) == 0, type == Int32(SOCK_STREAM.rawValue) else {
            throw SupervisorError.bind("fd://\(inherited)", "descriptor \(inherited) is not an open stream socket")
        }
        guard listen(inherited, backlog) == 0 else {
            throw SupervisorError.bind("fd://\(inherited)", String(cString: strerror(errno)))
        }
        let url = url(of: inherited, host: nil)
        let path = ownsFile && url.hasPrefix("unix:") ? String(url.dropFirst(5)) : nil
        return ListeningSocket(descriptor: try moveHigh(inherited), url: url, ownedPath: path)
    }

    /// The descriptors systemd passed by socket activation (`LISTEN_PID` is this process,
    /// `LISTEN_FDS` of them from 3), or nil. Unsets the variables so children do not see them.
    public static func systemdDescriptors() -> [Int32]? {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pid = getenv("LISTEN_PID").flatMap({ pid_t(String(cString: $0)) }), pid == getpid(),
            let count = getenv("LISTEN_FDS").flatMap({ Int32(String(cString: $0)) }), count > 0
        else { return nil }
        return Array(3..<(3 + count))
    }

    /// Stops the socket listening for every process that shares it (the workers too), at once:
    /// from now on a new connection is refused, so a client knows its request was never sent.
    /// Closing only the master's copy would leave the socket listening until the last worker
    /// closes its own: the kernel would queue the connections that arrive meanwhile, let their
    /// clients send, then reset them all when that last copy closes (requests lost after TERM).
    public func stopListening() {
        _ = Glibc.shutdown(self.descriptor, Int32(SHUT_RD))
    }

    /// Stops listening in the master, and removes a Unix socket's file unless `keepingFile`
    /// (another master serves on it).
    public func close(keepingFile: Bool = false) {
        _ = Glibc.close(self.descriptor)
        if let path = self.ownedPath, !keepingFile { unlink(path) }
    }

    /// `fd` duplicated to a descriptor >= `firstHighDescriptor`, close-on-exec; `fd` is closed.
    private static func moveHigh(_ fd: Int32) throws -> Int32 {
        if fd >= Self.firstHighDescriptor {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            return fd
        }
        let high = fcntl(fd, F_DUPFD_CLOEXEC, Self.firstHighDescriptor)
        guard high >= 0 else { throw SupervisorError.system("fcntl(F_DUPFD_CLOEXEC)", errno) }
        _ = Glibc.close(fd)
        return high
    }

    /// `http://HOST:PORT` or `unix:PATH` for a bound socket, read back from the kernel.
    private static func url(of fd: Int32, host: String?) -> String {
        switch SocketAddress.bound(to: fd) {
        case let address? where address.protocol == .inet:
            return "http://\(host ?? address.ipAddress ?? "?"):\(address.port ?? 0)"
        case let address? where address.protocol == .inet6:
            return "http://[\(host ?? address.ipAddress ?? "?")]:\(address.port ?? 0)"
        case let address?:
            return address.pathname.map { "unix:\($0)" } ?? "fd://\(fd)"
        case nil:
            return "fd://\(fd)"
        }
    }
}
