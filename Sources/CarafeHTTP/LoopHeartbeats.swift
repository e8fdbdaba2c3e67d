import NIOCore

/// The detached streams of one event loop and their heartbeats: one repeating timer (a tick
/// every `tick`) drives a `HeartbeatWheel` for all of them, and runs only while the loop has
/// a stream. Touched only on its loop.
final class LoopHeartbeats {
    static let tick = TimeAmount.milliseconds(100)

    private let loop: any EventLoop
    private var wheel = HeartbeatWheel()
    private var streams: [Int: DetachedStream] = [:]
    private var timer: RepeatedTask?
    private var lastID = 0
    /// The last heartbeat framed as a chunk, and what it was framed from: streams that beat
    /// with the same bytes (every `EventStream`'s `: ping`) share one buffer.
    private var framedBeat: (beat: ByteBuffer, chunk: ByteBuffer)?

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// The streams open on this loop.
    var count: Int { self.streams.count }

    func nextID() -> Int {
        self.lastID += 1
        return self.lastID
    }

    /// Tracks `stream` until it ends; with an `interval`, it beats after that long without a write.
    func add(_ stream: DetachedStream, every interval: TimeAmount?) {
        self.streams[stream.id] = stream
        let ticks = Int((interval ?? .seconds(30)).nanoseconds / Self.tick.nanoseconds)
        // Without a heartbeat of its own, a stream still comes round every 30 s, so that a
        // socket full for longer than the write timeout is found.
        self.wheel.insert(stream.id, every: max(1, ticks))
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

    func touched(_ stream: DetachedStream) {
        self.wheel.touched(stream.id)
    }

    func remove(_ stream: DetachedStream) {
        self.wheel.remove(stream.id)
        self.streams[stream.id] = nil
        if self.streams.isEmpty {
            self.timer?.cancel()
            self.timer = nil
            self.wheel = HeartbeatWheel()
            self.streams = [:]  // a dictionary keeps its capacity: give it back
        }
    }

    private func advance() {
        let due = self.wheel.advance()
        guard !due.isEmpty else { return }
        let now = self.loop.now
        for id in due { self.streams[id]?.beat(now: now) }
    }
}
