import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Accepts connections on an inherited listening socket that other processes may accept on too
/// (the workers of a supervising master all share the master's sockets), on a thread of its
/// own, and hands each connection to the event loops.
///
/// NIO's server channel cannot share a socket with another process: when another worker takes
/// the connection whose arrival woke this one, NIO's `accept` finds nothing, which NIO asserts
/// never happens (debug builds trap). Here a `poll` is followed by non-blocking `accept4` calls
/// until the queue is empty; finding it empty at once is normal. The cost is one thread hop per
/// new connection, not per request.
final class SharedSocketAcceptor: Sendable {
    let descriptor: Int32
    /// A pipe that wakes the thread: "r" to look at `paused` again, "q" to quit.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let paused = PauseFlag()
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let finished: EventLoopFuture<Void>

    /// Starts accepting on `descriptor` and calls `connected` with each accepted socket
    /// (non-blocking, close-on-exec) from the acceptor's thread.
    init(descriptor: Int32, loop: any EventLoop, logger: Logger, connected: @escaping @Sendable (Int32) -> Void) throws {
        let wake = try PipeEnds.open(nonBlocking: true)
        // Non-blocking: after a `poll` says a connection is waiting, another process may take it
        // first, and a blocking `accept` would then wait for the next one. The flag belongs to
        // the open file description, so every process sharing the socket sees it.
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        self.descriptor = descriptor
        self.wakeRead = wake.read
        self.wakeWrite = wake.write
        self.thread.start()
        let paused = self.paused
        self.finished = self.thread.runIfActive(eventLoop: loop) {
            Self.acceptLoop(descriptor: descriptor, wake: wake.read, paused: paused, logger: logger, connected: connected)
        }
    }

    /// Pauses or resumes accepting (the connection limit).
    func setAccepting(_ accepting: Bool) {
        self.paused.value.store(!accepting, ordering: .relaxed)
        self.poke("r")
    }

    /// Stops the thread, then closes this process's copy of the socket. Other processes keep
    /// theirs, so the socket stays open for them.
    func close() async {
        self.poke("q")
        try? await self.finished.get()
        _ = Glibc.close(self.descriptor)
        _ = Glibc.close(self.wakeRead)
        _ = Glibc.close(self.wakeWrite)
        try? await self.thread.shutdownGracefully()
    }

    /// The address the socket is bound to.
    var localAddress: SocketAddress? { SocketAddress.bound(to: self.descriptor) }

    private func poke(_ byte: Character) {
        var value = byte.asciiValue!
        _ = write(self.wakeWrite, &value, 1)
    }

    private static func acceptLoop(
        descriptor: Int32,
        wake: Int32,
        paused: PauseFlag,
        logger: Logger,
        connected: @Sendable (Int32) -> Void
    ) {
        var buffer = [UInt8](repeating: 0, count: 16)
        while true {
            let listening = !paused.value.load(ordering: .relaxed)
            var fds = [
                pollfd(fd: descriptor, events: listening ? Int16(POLLIN) : 0, revents: 0),
                pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&fds, 2, -1) >= 0 || errno == EINTR else {
                logger.error("poll() on listening descriptor \(descriptor) failed: \(String(cString: strerror(errno)))")
                return
            }
            if fds[1].revents != 0 {
                let count = read(wake, &buffer, buffer.count)
                if count > 0, buffer[..<count].contains(UInt8(ascii: "q")) { return }
            }
            guard listening, fds[0].revents != 0 else { continue }
            for _ in 0..<64 {
                let socket = accept(descriptor, nil, nil)
                if socket >= 0 {
                    _ = fcntl(socket, F_SETFD, FD_CLOEXEC)
                    _ = fcntl(socket, F_SETFL, O_NONBLOCK)
                    connected(socket)
                    continue
                }
                switch errno {
                case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO:
                    break  // another process took it, or the client gave up
                case EINVAL:
                    // The socket no longer listens: the master stopped it for a stop of the whole
                    // server (`shutdown`), and this worker is about to drain.
                    logger.debug("listening descriptor \(descriptor) was shut down; no longer accepting")
                    return
                default:
                    // Out of descriptors or memory: back off instead of spinning.
                    logger.error("accept() on descriptor \(descriptor) failed: \(String(cString: strerror(errno)))")
                    usleep(50_000)
                }
                break
            }
        }
    }
}

/// Whether accepting is paused, shared with the acceptor's thread.
final class PauseFlag: Sendable {
    let value = Atomic<Bool>(false)
}
