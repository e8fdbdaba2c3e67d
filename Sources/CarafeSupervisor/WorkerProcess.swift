import CarafeHTTP
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// One worker's process as the master's I/O sees it: its pid and the read end of its heartbeat
/// pipe. What the master knows and decides about it is in `ArbiterStateMachine.Worker`.
final class WorkerProcess {
    let number: Int
    let pid: pid_t
    /// The master's (non-blocking) read end of the heartbeat pipe; -1 once closed.
    private(set) var heartbeat: Int32
    /// Splits the heartbeat pipe's bytes into beats and frames.
    private var reader = HeartbeatReader()

    private init(number: Int, pid: pid_t, heartbeat: Int32) {
        self.number = number
        self.pid = pid
        self.heartbeat = heartbeat
    }

    /// Starts `executable` with `arguments` (argv[0] included) as worker `number`, the
    /// listening sockets at descriptors 3, 4, … and the heartbeat pipe after them (`ChildProcess`).
    static func spawn(
        number: Int,
        executable: String,
        arguments: [String],
        listeners: [Int32],
        heartbeatInterval: Duration
    ) throws -> WorkerProcess {
        let ends = try PipeEnds.open(nonBlocking: false)
        // The write end must not sit on a number the file actions write to.
        let writeEnd = fcntl(ends.write, F_DUPFD_CLOEXEC, ListeningSocket.firstHighDescriptor)
        close(ends.write)
        guard writeEnd >= 0 else {
            close(ends.read)
            throw SupervisorError.system("fcntl(F_DUPFD_CLOEXEC)", errno)
        }
        defer { close(writeEnd) }
        _ = fcntl(ends.read, F_SETFL, O_NONBLOCK)

        let childFDs = listeners.indices.map { Int32(3 + $0) }
        let heartbeatTarget = Int32(3 + listeners.count)
        let milliseconds = TimeAmount(heartbeatInterval).nanoseconds / 1_000_000
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(
                executable: executable,
                arguments: arguments,
                descriptors: listeners + [writeEnd],
                environment: [
                    "CARAFE_WORKER=\(number)",
                    "CARAFE_LISTEN_FDS=\(childFDs.map(String.init).joined(separator: ","))",
                    "CARAFE_HEARTBEAT_FD=\(heartbeatTarget)",
                    "CARAFE_HEARTBEAT_MS=\(milliseconds)",
                    "CARAFE_MASTER_PID=\(getpid())",
                ]
            )
        } catch {
            close(ends.read)
            throw error
        }
        return WorkerProcess(number: number, pid: pid, heartbeat: ends.read)
    }

    /// Reads every pending byte of the heartbeat pipe: the beats and frames it brought.
    func readHeartbeat() -> HeartbeatReader.Events {
        var events = HeartbeatReader.Events()
        guard self.heartbeat >= 0 else { return events }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = read(self.heartbeat, &buffer, buffer.count)
            if count > 0 {
                let more = self.reader.feed(buffer[..<count])
                events.beats += more.beats
                events.frames += more.frames
                events.garbage += more.garbage
                continue
            }
            if count == 0 { self.closeHeartbeat() }  // the worker closed it: it is exiting
            break
        }
        return events
    }

    func closeHeartbeat() {
        if self.heartbeat >= 0 { close(self.heartbeat) }
        self.heartbeat = -1
    }
}
