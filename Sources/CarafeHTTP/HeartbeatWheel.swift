/// When each long-lived stream of an event loop is due for a heartbeat: a hashed timing wheel,
/// so that one timer per loop serves every stream on it (10,000 idle streams are not 10,000
/// timers). A pure state type counted in ticks (the driver decides a tick's length), tested
/// with a manual clock.
///
/// A stream beats when `interval` ticks have passed since its last write (or since it was
/// added). A write only records the tick (`touched`); the wheel finds out when the stream's
/// slot comes round and moves it on, so writing costs no timer operation.
struct HeartbeatWheel {
    private struct Entry {
        var interval: Int
        var lastActivity: Int
        var due: Int
    }

    private var entries: [Int: Entry] = [:]
    private var slots: [[Int]]
    /// The current tick.
    private(set) var now = 0

    /// `slots`: the wheel's size; an interval longer than it takes more than one turn.
    init(slots: Int = 256) {
        precondition(slots > 0)
        self.slots = Array(repeating: [], count: slots)
    }

    var isEmpty: Bool { self.entries.isEmpty }
    var count: Int { self.entries.count }

    /// Adds stream `id`, to beat every `interval` ticks (at least 1) without a write.
    mutating func insert(_ id: Int, every interval: Int) {
        let interval = max(1, interval)
        let entry = Entry(interval: interval, lastActivity: self.now, due: self.now + interval)
        self.entries[id] = entry
        self.place(id, at: entry.due)
    }

    /// Stream `id` wrote something now: its next beat moves back.
    mutating func touched(_ id: Int) {
        self.entries[id]?.lastActivity = self.now
    }

    mutating func remove(_ id: Int) {
        self.entries[id] = nil  // its slot forgets it when it comes round
    }

    /// Moves one tick on; returns the streams to beat now (each is then due again `interval`
    /// ticks later).
    mutating func advance() -> [Int] {
        self.now += 1
        let index = self.now % self.slots.count
        let candidates = self.slots[index]
        guard !candidates.isEmpty else { return [] }
        self.slots[index] = []
        var beating: [Int] = []
        for id in candidates {
            guard var entry = self.entries[id], entry.due == self.now else {
                // Removed, or a later turn of the wheel: keep it if it is still due there.
                if let entry = self.entries[id], entry.due > self.now, entry.due % self.slots.count == index {
                    self.slots[index].append(id)
                }
                continue
            }
            let quietSince = entry.lastActivity
            if quietSince + entry.interval > self.now {
                // Written to since: due `interval` after that write.
                entry.due = quietSince + entry.interval
            } else {
                beating.append(id)
                entry.lastActivity = self.now
                entry.due = self.now + entry.interval
            }
            self.entries[id] = entry
            self.place(id, at: entry.due)
        }
        return beating
    }

    private mutating func place(_ id: Int, at due: Int) {
        self.slots[due % self.slots.count].append(id)
    }
}
