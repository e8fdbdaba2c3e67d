import NIOCore

/// Something on a loop's heartbeat wheel: a detached stream (its keep-alive beat and write
/// timeout), a WebSocket (its pings).
protocol HeartbeatMember: AnyObject {
    /// Its place on the wheel, from `LoopHeartbeats.nextID()`.
    var heartbeatID: Int { get }
    /// It is due: `interval` has passed since its last beat or write.
    func beat(now: NIODeadline)
}

/// The long-lived connections of one event loop and their heartbeats: one repeating timer (a
/// tick every `tick`) drives a `HeartbeatWheel` for all of them, and runs only while the loop
/// has one. 10,000 idle streams or WebSockets are then not 10,000 timers (each of NIO's
/// repeating timers is about 400 bytes of tasks, promises and callbacks). Touched only on its loop.
final class LoopHeartbeats {
    static let tick = TimeAmount.milliseconds(100)

    private let loop: any EventLoop
    private var wheel = HeartbeatWheel()
    private var members: [Int: any HeartbeatMember] = [:]
    private var timer: RepeatedTask?
    private var lastID = 0
    /// The last heartbeat framed as a chunk, and what it was framed from: streams that beat
    /// with the same bytes (every `EventStream`'s `: ping`) share one buffer.
    private var framedBeat: (beat: ByteBuffer, chunk: ByteBuffer)?

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// The members on this loop.
    var count: Int { self.members.count }

    func nextID() -> Int {
        self.lastID += 1
        return self.lastID
    }

    /// Tracks `member` until removed; it beats after `interval` without a write (every 30 s
    /// without one: a detached stream with no heartbeat of its own still comes round, so that
    /// a socket full for longer than the write timeout is found).
    func add(_ member: any HeartbeatMember, every interval: TimeAmount?) {
        self.members[member.heartbeatID] = member
        let ticks = Int((interval ?? .seconds(30)).nanoseconds / Self.tick.nanoseconds)
        self.wheel.insert(member.heartbeatID, every: max(1, ticks))
        if self.timer == nil {
            let loop = NIOLoopBound(self, eventLoop: self.loop)
            self.timer = self.loop.scheduleRepeatedTask(initialDelay: Self.tick, delay: Self.tick) { _ in
                loop.value.advance()
            }
        }
    }

    /// `beat` framed as one chunk of chunked transfer coding, shared with the other streams of
    /// this loop that beat with the same bytes (about 100 bytes fewer per idle stream).
    func chunk(ofBeat beat: ByteBuffer) -> ByteBuffer {
        if let framed = self.framedBeat, framed.beat == beat { return framed.chunk }
        let chunk = DetachedStream.chunk(beat)
        self.framedBeat = (beat, chunk)
        return chunk
    }

    /// `member` wrote something now: its next beat moves back.
    func touched(_ member: any HeartbeatMember) {
        self.wheel.touched(member.heartbeatID)
    }

    func remove(_ member: any HeartbeatMember) {
        guard self.members.removeValue(forKey: member.heartbeatID) != nil else { return }
        self.wheel.remove(member.heartbeatID)
        if self.members.isEmpty {
            self.timer?.cancel()
            self.timer = nil
            self.wheel = HeartbeatWheel()
            self.members = [:]  // a dictionary keeps its capacity: give it back
        }
    }

    private func advance() {
        let due = self.wheel.advance()
        guard !due.isEmpty else { return }
        let now = self.loop.now
        for id in due { self.members[id]?.beat(now: now) }
    }
}
