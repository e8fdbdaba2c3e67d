import NIOCore

#if canImport(Glibc)
import Glibc
#endif

extension SocketAddress {
    /// The address the socket `descriptor` is bound to, read back from the kernel
    /// (`getsockname`): the port the kernel chose for port 0, or an inherited socket's address.
    /// Nil if the kernel reports none, or a family other than IPv4, IPv6 and Unix.
    public static func bound(to descriptor: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let got = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard got == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return SocketAddress(withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self) }, host: "")
        case AF_INET6:
            return SocketAddress(withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) }, host: "")
        case AF_UNIX:
            return SocketAddress(withUnsafeBytes(of: storage) { $0.load(as: sockaddr_un.self) })
        default:
            return nil
        }
    }
}
