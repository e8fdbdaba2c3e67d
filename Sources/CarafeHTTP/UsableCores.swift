import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The number of cores this process may run on: its CPU affinity (`taskset`, cpusets) as Linux
/// reports it in `/proc/self/status`, else NIO's count. One event loop per usable core is the
/// right number: more loops than cores only adds context switches.
public func usableCores() -> Int {
    #if os(Linux)
    if let file = fopen("/proc/self/status", "r") {
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("Cpus_allowed:") else { continue }
            // A hex mask in comma-separated groups: "Cpus_allowed:\t00000000,00000003".
            let count = text.dropFirst("Cpus_allowed:".count).reduce(0) { count, character in
                count + (character.hexDigitValue?.nonzeroBitCount ?? 0)
            }
            if count > 0 { return min(count, System.coreCount) }
        }
    }
    #endif
    return System.coreCount
}
