import Foundation

/// The established TCP connections whose local port is `port` (a server's side of its
/// clients' connections) that the server has accepted, as /proc/net/tcp and tcp6 list them:
/// an observable condition a test can wait for ("the slow request is in flight") instead of
/// sleeping a fixed time. A connection still in the listen backlog has no inode yet.
public func establishedConnections(port: Int) -> Int {
    let local = String(format: ":%04X", port)
    return ["/proc/net/tcp", "/proc/net/tcp6"].reduce(0) { count, path in
        let table = readWhole(path)
        return count
            + table.split(separator: "\n").dropFirst().filter { line in
                let fields = line.split(separator: " ")
                return fields.count > 9 && fields[1].hasSuffix(local) && fields[3] == "01" && fields[9] != "0"
            }.count
    }
}

/// Polls every 5 ms until at least `count` connections to `port` are established; false
/// after `timeout` seconds.
public func waitForConnections(_ count: Int, port: Int, timeout: TimeInterval = 5) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if establishedConnections(port: port) >= count { return true }
        usleep(5_000)
    }
    return establishedConnections(port: port) >= count
}

/// The whole of a /proc file: `String(contentsOfFile:)` stops after the first page of one
/// (its size says 0), which leaves out most of a busy machine's sockets.
private func readWhole(_ path: String) -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        bytes += chunk[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
