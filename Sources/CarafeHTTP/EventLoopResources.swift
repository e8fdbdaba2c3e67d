import NIOCore

/// What the server keeps per event loop, touched only on that loop's thread.
final class EventLoopResources: @unchecked Sendable {
    /// Runs request tasks on this loop.
    let executor: EventLoopTaskExecutor
    /// The current `Date` header value.
    let dateCache = HTTPDateCache()
    /// The loop's detached streams (`DetachedStream`) and their one heartbeat timer.
    let heartbeats: LoopHeartbeats

    init(_ loop: any EventLoop) {
        self.executor = EventLoopTaskExecutor(loop)
        self.heartbeats = LoopHeartbeats(loop: loop)
    }
}

extension EventLoop {
    /// Runs `body` at once when called on this loop, else schedules it on the loop.
    func executeInline(_ body: @escaping @Sendable () -> Void) {
        if self.inEventLoop {
            body()
        } else {
            self.execute(body)
        }
    }
}
