import Synchronization

/// Tasks that something long-lived starts and must not leave running when it stops: a pool's
/// connection closes, teardown hooks run after a response, a streamed body's producer. The owner
/// starts them here (`run`), and on its way down waits for them (`wait`), cancelling those still
/// running after a grace period, so that the process does not exit under one of them.
package final class OwnedTasks: Sendable {
    private struct State {
        var next = 0
        var running: [Int: Task<Void, Never>] = [:]
        /// Resumed when `running` becomes empty.
        var idle: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waits cancelled before they began.
        var abandoned: Set<Int> = []
    }

    private let state = Mutex(State())

    package init() {}

    /// How many are running now.
    package var count: Int { self.state.withLock { $0.running.count } }

    /// Starts `body` in a task kept here until it returns.
    package func run(_ body: @escaping @Sendable () async -> Void) {
        self.state.withLock { state in
            state.next += 1
            let id = state.next
            state.running[id] = Task {
                await body()
                self.finished(id)
            }
        }
    }

    private func finished(_ id: Int) {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.running[id] = nil
            guard state.running.isEmpty else { return [] }
            defer { state.idle = [:] }
            return Array(state.idle.values)
        }
        waiters.forEach { $0.resume() }
    }

    /// Waits until every task has returned. After `grace` the ones still running are
    /// cancelled, and waited for again for up to `grace`; returns how many were still running
    /// then (0: all returned).
    @discardableResult
    package func wait(grace: Duration) async -> Int {
        for round in 0..<2 {
            let tasks = self.state.withLock { Array($0.running.values) }
            if tasks.isEmpty { return 0 }
            if round == 1 { tasks.forEach { $0.cancel() } }
            let waiter = self.state.withLock { state in
                state.next += 1
                return state.next
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.waitUntilIdle(waiter) }
                group.addTask { try? await Task.sleep(for: grace) }
                await group.next()
                group.cancelAll()
            }
        }
        return self.count
    }

    private func waitUntilIdle(_ waiter: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = self.state.withLock { state in
                    if state.running.isEmpty || state.abandoned.remove(waiter) != nil { return true }
                    state.idle[waiter] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let continuation = state.idle.removeValue(forKey: waiter) else {
                    state.abandoned.insert(waiter)
                    return nil
                }
                return continuation
            }?.resume()
        }
    }
}
