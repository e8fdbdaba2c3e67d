import NIOCore

/// A connection's one timer for deadlines that keep moving (keep-alive, request head, body
/// idle, handler deadlines): moving a deadline later costs nothing, as the pending firing
/// stays and the owner re-arms it when it fires and finds the deadline moved on; moving it
/// earlier replaces the firing. Used on the connection's event loop only.
struct ConnectionTimer {
    private var pending: (task: Scheduled<Void>, at: NIODeadline)?

    /// Makes sure the timer fires at `deadline` or before, calling `fire` on `loop`.
    /// `fire` should call `fired()` first.
    mutating func fire(by deadline: NIODeadline, on loop: any EventLoop, _ fire: @escaping () -> Void) {
        if self.fires(by: deadline) { return }
        self.pending?.task.cancel()
        let bound = NIOLoopBound(fire, eventLoop: loop)
        self.pending = (loop.scheduleTask(deadline: deadline) { bound.value() }, deadline)
    }

    /// Whether a pending firing comes at `deadline` or before (then the owner re-arms when it
    /// fires): checked before making the closure for `fire(by:on:_:)`, which costs an allocation.
    func fires(by deadline: NIODeadline) -> Bool {
        if let at = self.pending?.at, at <= deadline { return true }
        return false
    }

    /// The pending firing happened: nothing is scheduled now.
    mutating func fired() {
        self.pending = nil
    }

    /// Cancels the pending firing, if any.
    mutating func cancel() {
        self.pending?.task.cancel()
        self.pending = nil
    }
}
