import NIOCore
import Synchronization

#if os(Linux)
/// glibc's `malloc_trim` (`<malloc.h>`, which the Glibc module does not export).
@_silgen_name("malloc_trim")
private func mallocTrim(_ pad: Int) -> Int32
#endif

/// The open connections of a server, so that a graceful shutdown can ask each to finish and
/// wait for them all to close.
final class ConnectionRegistry: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        /// The most connections open since memory was last given back.
        var peak = 0
        /// Resumed when `open` becomes empty (or the timeout passes) while draining.
        var drained: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Tracks `channel` until it closes.
    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        self.state.withLock { state in
            state.open[id] = channel
            state.peak = max(state.peak, state.open.count)
        }
        channel.closeFuture.whenComplete { _ in
            let (waiter, giveBack) = self.state.withLock { state -> (CheckedContinuation<Void, Never>?, Bool) in
                state.open[id] = nil
                let giveBack = Self.shouldGiveBackMemory(open: state.open.count, peak: state.peak)
                if giveBack {
                    state.peak = state.open.count
                    state.open = Dictionary(uniqueKeysWithValues: state.open.map { ($0.key, $0.value) })  // its storage shrinks too
                }
                guard state.open.isEmpty else { return (nil, giveBack) }
                defer { state.drained = nil }
                return (state.drained, giveBack)
            }
            if giveBack { Self.giveBackMemory() }
            waiter?.resume()
        }
    }

    var count: Int { self.state.withLock { $0.open.count } }

    /// After a crowd of connections has gone (10,000 event streams whose clients left), the
    /// memory they used is free inside the allocator but still counted in the process's RSS:
    /// malloc keeps freed pages in its heaps. Past a drop of 1,000 connections to a quarter of
    /// the peak, the server asks it to return them to the kernel (`malloc_trim`, which frees
    /// every whole free page of every arena). Rare, and a few milliseconds on a loop.
    static func shouldGiveBackMemory(open: Int, peak: Int) -> Bool {
        peak - open >= 1000 && open <= peak / 4
    }

    private static func giveBackMemory() {
        #if os(Linux)
        _ = mallocTrim(0)
        #endif
    }

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
