/// What a worker sends its master on the heartbeat pipe besides its beats: a metrics report,
/// the requests it has in flight. The pipe is a byte stream; a beat is one `.` byte, and a
/// frame is `F`, a kind byte, a 4-byte big-endian length and that many bytes of payload.
/// The master's `HeartbeatReader` tells them apart; only `.` counts as a sign of life, so a
/// report written by a watchdog thread while every event loop is stuck keeps nobody alive.
public struct HeartbeatFrame: Sendable, Equatable {
    /// What the payload is.
    public struct Kind: RawRepresentable, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Metrics since the last report (the `CarafeMetrics` worker reporter's text).
        public static let metrics = Kind(rawValue: UInt8(ascii: "M"))
        /// The requests in flight, one per line (for the master's timeout log).
        public static let inFlight = Kind(rawValue: UInt8(ascii: "R"))
    }

    public var kind: Kind
    public var payload: [UInt8]

    public init(kind: Kind, payload: [UInt8]) {
        self.kind = kind
        self.payload = payload
    }

    static let beat = UInt8(ascii: ".")
    static let start = UInt8(ascii: "F")
    /// A frame larger than this is a broken stream, not a report.
    public static let maxPayload = 4 << 20

    /// The frame as it goes on the pipe.
    public var encoded: [UInt8] {
        let count = UInt32(self.payload.count)
        return [
            Self.start, self.kind.rawValue, UInt8(count >> 24), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF),
            UInt8(count & 0xFF),
        ]
            + self.payload
    }
}

/// The master's side of the heartbeat pipe: bytes in, beats and frames out, across as many
/// reads as a frame takes. A pure state machine (no I/O), so it is tested without pipes.
public struct HeartbeatReader: Sendable {
    /// What a read brought.
    public struct Events: Sendable, Equatable {
        /// Beats seen (signs of life).
        public var beats = 0
        public var frames: [HeartbeatFrame] = []
        /// Bytes that were neither a beat nor a valid frame (skipped).
        public var garbage = 0

        public init() {}
    }

    private var buffer: [UInt8] = []

    public init() {}

    /// Feeds `bytes` as read from the pipe.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> Events {
        self.buffer.append(contentsOf: bytes)
        var events = Events()
        var index = 0
        while index < self.buffer.count {
            let byte = self.buffer[index]
            if byte == HeartbeatFrame.beat {
                events.beats += 1
                index += 1
                continue
            }
            guard byte == HeartbeatFrame.start else {
                events.garbage += 1
                index += 1
                continue
            }
            guard self.buffer.count - index >= 6 else { break }  // the header is not all here yet
            let length = self.buffer[(index + 2)..<(index + 6)].reduce(0) { $0 << 8 | Int($1) }
            guard length <= HeartbeatFrame.maxPayload else {
                events.garbage += 1
                index += 1
                continue
            }
            guard self.buffer.count - index - 6 >= length else { break }
            let kind = HeartbeatFrame.Kind(rawValue: self.buffer[index + 1])
            events.frames.append(HeartbeatFrame(kind: kind, payload: Array(self.buffer[(index + 6)..<(index + 6 + length)])))
            index += 6 + length
        }
        self.buffer.removeFirst(index)
        return events
    }
}
