import NIOCore
import Synchronization

/// The open connections of a server, so that a graceful shutdown can ask each to finish and
/// wait for them all to close.
final class ConnectionRegistry: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        /// Resumed when `open` becomes empty (or the timeout passes) while draining.
        var drained: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Tracks `channel` until it closes.
    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        self.state.withLock { $0.open[id] = channel }
        channel.closeFuture.whenComplete { _ in
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.open[id] = nil
                guard state.open.isEmpty else { return nil }
                defer { state.drained = nil }
                return state.drained
            }
            waiter?.resume()
        }
    }

    var count: Int { self.state.withLock { $0.open.count } }

    var all: [any Channel] { self.state.withLock { Array($0.open.values) } }

    /// Asks every open connection to finish its current request and close
    /// (`ChannelShouldQuiesceEvent`), then waits until all have closed or `deadline` passed.
    /// Returns the connections still open.
    func drain(until deadline: NIODeadline, on loop: any EventLoop) async -> [any Channel] {
        for channel in self.state.withLock({ Array($0.open.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiting = self.state.withLock { state in
                if state.open.isEmpty { return false }
                state.drained = continuation
                return true
            }
            guard waiting else { return continuation.resume() }
            loop.scheduleTask(deadline: deadline) {
                self.state.withLock { state in
                    defer { state.drained = nil }
                    return state.drained
                }?.resume()
            }
        }
        return self.state.withLock { Array($0.open.values) }
    }
}
