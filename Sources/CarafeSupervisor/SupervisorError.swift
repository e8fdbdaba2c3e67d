#if canImport(Glibc)
import Glibc
#endif

/// Why the master could not start or had to give up.
public enum SupervisorError: Error, CustomStringConvertible {
    /// A system call failed.
    case system(String, Int32)
    /// A `--bind` address could not be bound.
    case bind(String, String)
    /// Workers kept dying before they were ready to serve.
    case workersFailToBoot(String)
    /// `--user` or `--group` could not be found or switched to.
    case privileges(String)

    /// The message the master logs before it exits.
    public var description: String {
        switch self {
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        case .bind(let address, let reason): "cannot listen on \(address): \(reason)"
        case .workersFailToBoot(let reason): "workers keep failing to boot: \(reason)"
        case .privileges(let reason): "cannot drop privileges: \(reason)"
        }
    }
}
