import CarafeHTTP
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// One worker as the master sees it: its process, its heartbeat pipe, and what the master has
/// done to it.
final class WorkerProcess {
    /// 1, 2, 3, … in order of spawning; a replacement gets a new number.
    let number: Int
    let pid: pid_t
    /// Workers started by one reload share a generation; a HUP starts the next one.
    let generation: Int
    /// The master's (non-blocking) read end of the heartbeat pipe; -1 once closed.
    private(set) var heartbeat: Int32
    let spawnedAt: ContinuousClock.Instant
    var lastBeat: ContinuousClock.Instant
    /// Set by the first heartbeat: the worker is accepting.
    var booted = false
    /// Why the master is stopping it (it sent TERM, QUIT, ABRT or KILL), if it is.
    var retiring: String?
    /// The master killed it for missing heartbeats (not an orderly stop).
    var timedOut = false
    var signalledAt: ContinuousClock.Instant?
    /// A USR1 (reopen the log files) came while it was booting: it gets one once it serves.
    var reopenLogsOnceBooted = false
    var killed = false
    /// Splits the heartbeat pipe's bytes into beats and frames.
    private var reader = HeartbeatReader()
    /// The requests it last said it had in flight (a `.inFlight` frame), one per line.
    var inFlight: String = ""
    /// Set once it passed `--max-worker-memory` or `--max-worker-age`: its replacement is
    /// starting, and it serves on until that one serves.
    var recycling: (cause: WorkerExitCause, reason: String)?
    /// With `--reuse-port`: the slot whose sockets it serves on (0, 1, …).
    let slot: Int

    private init(number: Int, pid: pid_t, generation: Int, heartbeat: Int32, slot: Int) {
        self.slot = slot
        self.number = number
        self.pid = pid
        self.generation = generation
        self.heartbeat = heartbeat
        self.spawnedAt = .now
        self.lastBeat = .now
    }

    var name: String { "worker \(self.number) (pid \(self.pid))" }

    /// What an `ArbiterObserver` is told about it.
    var info: ArbiterWorkerInfo { ArbiterWorkerInfo(number: self.number, pid: self.pid, lastBeat: self.lastBeat, booted: self.booted) }

    /// Starts `executable` with `arguments` (argv[0] included) as worker `number`, the
    /// listening sockets at descriptors 3, 4, … and the heartbeat pipe after them (`ChildProcess`).
    static func spawn(
        number: Int,
        generation: Int,
        executable: String,
        arguments: [String],
        listeners: [Int32],
        heartbeatInterval: Duration,
        slot: Int = 0
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
        return WorkerProcess(number: number, pid: pid, generation: generation, heartbeat: ends.read, slot: slot)
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

    /// Sends `signo`, remembering why and when.
    func signal(_ signo: Int32, because reason: String) {
        if self.retiring == nil { self.retiring = reason }
        self.signalledAt = .now
        if signo == SIGKILL { self.killed = true }
        kill(self.pid, signo)
    }
}
