import Foundation

/// Network namespaces made by a test, to stand in for separate hosts: each has its own
/// loopback and its own interfaces, joined by veth pairs on private test addresses that exist
/// only inside them. Processes run in one with `ip netns exec NAME …` (`command(in:)`).
///
/// Everything is removed at deinit: the processes still running in the namespaces are killed,
/// then the namespaces (and with them their veth ends) are deleted.
public final class NetworkNamespaces: @unchecked Sendable {
    /// The namespaces' full names, by the short names the test gave.
    public private(set) var names: [String: String] = [:]
    private let prefix = "carafe\(getpid() % 100_000)"
    private var links = 0

    /// Whether namespaces can be made here (root, `ip` installed, the kernel allows it): tries
    /// to make one and removes it. Tests that need namespaces are skipped when false.
    public static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: ipPath) else { return false }
        let probe = "carafe-probe-\(getpid())"
        guard (try? runProcess(ipPath, ["netns", "add", probe]))?.status == 0 else { return false }
        defer { _ = try? runProcess(ipPath, ["netns", "del", probe]) }
        return (try? runProcess(ipPath, ["netns", "exec", probe, ipPath, "link", "set", "lo", "up"]))?.status == 0
    }()

    public static var ipPath: String {
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/ip"
    }

    public init(_ shortNames: [String]) throws {
        for name in shortNames {
            let full = "\(self.prefix)-\(name)"
            try Self.ip(["netns", "add", full])
            self.names[name] = full
            try Self.ip(["netns", "exec", full, Self.ipPath, "link", "set", "lo", "up"])
        }
    }

    deinit {
        for name in self.names.values {
            let pids =
                (try? runProcess(Self.ipPath, ["netns", "pids", name]))?.output.split(separator: "\n").compactMap { Int32($0) } ?? []
            pids.forEach { kill($0, SIGKILL) }
            _ = try? runProcess(Self.ipPath, ["netns", "del", name])
        }
    }

    /// Joins namespaces `a` and `b` with a veth pair: `a` gets `addressA`, `b` gets `addressB`
    /// (with a prefix length, e.g. `10.213.1.1/24`).
    public func link(_ a: String, _ addressA: String, _ b: String, _ addressB: String) throws {
        guard let namespaceA = self.names[a], let namespaceB = self.names[b] else { throw NginxError("unknown namespace") }
        self.links += 1
        let endA = "\(self.prefix)a\(self.links)".suffix(15)
        let endB = "\(self.prefix)b\(self.links)".suffix(15)
        try Self.ip(["link", "add", String(endA), "type", "veth", "peer", "name", String(endB)])
        try Self.ip(["link", "set", String(endA), "netns", namespaceA])
        try Self.ip(["link", "set", String(endB), "netns", namespaceB])
        try Self.ip(["-n", namespaceA, "addr", "add", addressA, "dev", String(endA)])
        try Self.ip(["-n", namespaceB, "addr", "add", addressB, "dev", String(endB)])
        try Self.ip(["-n", namespaceA, "link", "set", String(endA), "up"])
        try Self.ip(["-n", namespaceB, "link", "set", String(endB), "up"])
    }

    /// The launcher and arguments that run `executable arguments` in namespace `name`.
    public func command(in name: String, _ executable: String, _ arguments: [String]) -> (URL, [String]) {
        (URL(fileURLWithPath: Self.ipPath), ["netns", "exec", self.names[name] ?? name, executable] + arguments)
    }

    /// Runs `executable arguments` in namespace `name` to the end.
    public func run(in name: String, _ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try runProcess(Self.ipPath, ["netns", "exec", self.names[name] ?? name, executable] + arguments)
    }

    private static func ip(_ arguments: [String]) throws {
        let result = try runProcess(self.ipPath, arguments)
        guard result.status == 0 else { throw NginxError("ip \(arguments.joined(separator: " ")): \(result.output)") }
    }
}
