import Testing

@testable import CarafeSQL

/// The pool's decisions without a database, a socket or a sleep: connections are numbers, waiters
/// are names, and the time is a manual clock (`t(seconds)`).
@Suite struct ConnectionPoolStateMachineTests {
    typealias Machine = ConnectionPoolStateMachine<Int, String>

    /// A pool of `max` connections, a 5 s wait, a 60 s idle timeout, at most `maxWaiters` waiting.
    static func machine(max: Int = 2, maxWaiters: Int = 1024) -> Machine {
        Machine(
            configuration: ConnectionPoolConfiguration(
                maxConnections: max,
                idleTimeout: .seconds(60),
                waitTimeout: .seconds(5),
                maxWaiters: maxWaiters
            )
        )
    }

    static let start = ContinuousClock.now
    /// The manual clock: `seconds` after the test's start.
    static func t(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int(seconds * 1000)) }

    static func open(_ connection: Int) -> Bool { false }

    /// Leases, expecting `.open`, and "opens" connection `id` by releasing it later.
    static func opened(_ machine: inout Machine, _ waiter: String, at time: Double = 0) -> Bool {
        if case .open = machine.lease(waiter, now: t(time), isClosed: Self.open) { return true }
        return false
    }

    @Test func opensUpToTheMaximumThenQueues() {
        var pool = Self.machine(max: 2)
        #expect(Self.opened(&pool, "a"))
        #expect(Self.opened(&pool, "b"))
        #expect(pool.openCount == 2)
        guard case .wait(let id, let deadline, let armTimer) = pool.lease("c", now: Self.t(1), isClosed: Self.open) else {
            Issue.record("the third query should wait")
            return
        }
        #expect(id > 0)
        #expect(deadline == Self.t(6), "the wait timeout counts from when the query asked")
        #expect(armTimer, "the first waiter arms the pool's timer")
        #expect(pool.waitingCount == 1)
        #expect(pool.openCount == 2)
    }

    @Test func anIdleConnectionIsLentBeforeAnotherIsOpenedAndTheMostRecentFirst() {
        var pool = Self.machine(max: 3)
        #expect(Self.opened(&pool, "a"))
        #expect(Self.opened(&pool, "b"))
        guard case .keep = pool.release(1, isClosed: false, now: Self.t(1)), case .keep = pool.release(2, isClosed: false, now: Self.t(2))
        else {
            Issue.record("with nobody waiting, a returned connection stays idle")
            return
        }
        #expect(pool.idleCount == 2)
        guard case .use(let connection) = pool.lease("c", now: Self.t(3), isClosed: Self.open) else {
            Issue.record("an idle connection is lent")
            return
        }
        #expect(connection == 2, "the most recently used one, so the others can go idle long enough to close")
        #expect(pool.openCount == 2)
    }

    @Test func aReturnedConnectionGoesToTheOldestWaiter() {
        var pool = Self.machine(max: 1)
        #expect(Self.opened(&pool, "a"))
        _ = pool.lease("first", now: Self.t(1), isClosed: Self.open)
        _ = pool.lease("second", now: Self.t(2), isClosed: Self.open)
        guard case .resume(let waiter, .connection(let connection)) = pool.release(7, isClosed: false, now: Self.t(3)) else {
            Issue.record("a waiter gets the connection")
            return
        }
        #expect(waiter == "first")
        #expect(connection == 7)
        guard case .resume("second", .connection(7)) = pool.release(7, isClosed: false, now: Self.t(4)) else {
            Issue.record("then the next waiter")
            return
        }
        guard case .keep = pool.release(7, isClosed: false, now: Self.t(5)) else {
            Issue.record("then it goes idle")
            return
        }
        #expect(pool.waitingCount == 0)
        #expect(pool.openCount == 1)
    }

    @Test func aWaiterTimesOutAtItsDeadlineAndNotBefore() {
        var pool = Self.machine(max: 1)
        #expect(Self.opened(&pool, "a"))
        _ = pool.lease("early", now: Self.t(1), isClosed: Self.open)  // deadline 6 s
        _ = pool.lease("late", now: Self.t(3), isClosed: Self.open)  // deadline 8 s
        #expect(pool.timeOut(now: Self.t(5.999)).waiters.isEmpty)
        let (expired, error, rearm) = pool.timeOut(now: Self.t(6))
        #expect(expired == ["early"])
        #expect(rearm == Self.t(8), "the timer is armed again for the next waiter's deadline")
        #expect(error.reason.contains("stayed busy for 5"), "\(error.reason)")
        #expect(error.httpError.status == .serviceUnavailable)
        #expect(pool.waitingCount == 1)
        // The connection comes back: the waiter still waiting gets it, not the one that gave up.
        guard case .resume("late", .connection(1)) = pool.release(1, isClosed: false, now: Self.t(7)) else {
            Issue.record("the remaining waiter gets the connection")
            return
        }
        #expect(pool.timeOut(now: Self.t(100)).waiters.isEmpty, "a waiter that was served never times out")
    }

    @Test func onePoolTimerServesEveryWaiterInDeadlineOrder() {
        var pool = Self.machine(max: 1)
        #expect(Self.opened(&pool, "a"))
        var arms: [Bool] = []
        for (index, name) in ["b", "c", "d"].enumerated() {
            guard case .wait(_, _, let armTimer) = pool.lease(name, now: Self.t(Double(index)), isClosed: Self.open) else {
                Issue.record("\(name) waits")
                return
            }
            arms.append(armTimer)
        }
        #expect(arms == [true, false, false], "one timer for the pool, armed by the first waiter only")
        // b is served; the timer fires at b's deadline: nobody's wait is over yet, c's is next.
        guard case .resume("b", _) = pool.release(1, isClosed: false, now: Self.t(3)) else {
            Issue.record("b gets the connection")
            return
        }
        let first = pool.timeOut(now: Self.t(5))
        #expect(first.waiters.isEmpty)
        #expect(first.rearm == Self.t(6))
        let second = pool.timeOut(now: Self.t(7))
        #expect(second.waiters == ["c", "d"], "every wait that is over, oldest first")
        #expect(second.rearm == nil, "nobody waits: the timer is disarmed")
        guard case .wait(_, _, let armsAgain) = pool.lease("e", now: Self.t(8), isClosed: Self.open) else {
            Issue.record("e waits")
            return
        }
        #expect(armsAgain, "the next waiter arms the timer again")
    }

    @Test func aCancelledWaiterIsRemovedOnce() {
        var pool = Self.machine(max: 1)
        #expect(Self.opened(&pool, "a"))
        guard case .wait(let id, _, _) = pool.lease("b", now: Self.t(1), isClosed: Self.open) else {
            Issue.record("b waits")
            return
        }
        #expect(pool.cancel(id) == "b")
        #expect(pool.cancel(id) == nil)
        guard case .keep = pool.release(1, isClosed: false, now: Self.t(2)) else {
            Issue.record("nobody waits any more: the connection goes idle")
            return
        }
    }

    @Test func tooManyWaitersFailAtOnceNamingTheLimit() {
        var pool = Self.machine(max: 1, maxWaiters: 2)
        #expect(Self.opened(&pool, "a"))
        _ = pool.lease("b", now: Self.t(0), isClosed: Self.open)
        _ = pool.lease("c", now: Self.t(0), isClosed: Self.open)
        guard case .fail(let error) = pool.lease("d", now: Self.t(0), isClosed: Self.open) else {
            Issue.record("the third waiter is refused")
            return
        }
        #expect(error.reason.contains("too many queries are waiting"), "\(error.reason)")
        #expect(error.reason.contains("2"), "the limit is named: \(error.reason)")
        #expect(pool.waitingCount == 2)
    }

    @Test func aBrokenConnectionsSlotGoesToTheOldestWaiterWhoOpensANewOne() {
        var pool = Self.machine(max: 1)
        #expect(Self.opened(&pool, "a"))
        _ = pool.lease("b", now: Self.t(1), isClosed: Self.open)
        guard case .resume("b", .slot) = pool.release(1, isClosed: true, now: Self.t(2)) else {
            Issue.record("the waiter is handed the slot")
            return
        }
        #expect(pool.openCount == 1, "the slot moved to the waiter: it is still counted")
        // A new query meanwhile cannot take that slot.
        guard case .wait = pool.lease("c", now: Self.t(2), isClosed: Self.open) else {
            Issue.record("a new query waits: the free slot was promised to b")
            return
        }
        // With nobody waiting, a broken connection frees its slot.
        var alone = Self.machine(max: 1)
        #expect(Self.opened(&alone, "a"))
        guard case .none = alone.release(1, isClosed: true, now: Self.t(1)) else {
            Issue.record("nothing to do")
            return
        }
        #expect(alone.openCount == 0)
        #expect(Self.opened(&alone, "b"), "the next query opens a new connection")
    }

    @Test func anIdleConnectionFoundClosedIsDroppedAndAnotherTried() {
        var pool = Self.machine(max: 2)
        #expect(Self.opened(&pool, "a"))
        #expect(Self.opened(&pool, "b"))
        _ = pool.release(1, isClosed: false, now: Self.t(1))
        _ = pool.release(2, isClosed: false, now: Self.t(2))
        // The server restarted: connection 2 (tried first) is closed.
        guard case .use(1) = pool.lease("c", now: Self.t(3), isClosed: { $0 == 2 }) else {
            Issue.record("the closed one is skipped")
            return
        }
        #expect(pool.openCount == 1)
        // Both closed: a new one is opened.
        _ = pool.release(1, isClosed: false, now: Self.t(4))
        guard case .open = pool.lease("d", now: Self.t(5), isClosed: { _ in true }) else {
            Issue.record("every idle one was closed: open a new one")
            return
        }
        #expect(pool.openCount == 1)
        #expect(pool.idleCount == 0)
    }

    @Test func aFailedOpenHandsItsSlotOnOrFreesIt() {
        var pool = Self.machine(max: 1)
        #expect(Self.opened(&pool, "a"))
        _ = pool.lease("b", now: Self.t(0), isClosed: Self.open)
        guard case .resume("b", .slot) = pool.openFailed() else {
            Issue.record("the waiter tries in its turn")
            return
        }
        guard case .none = pool.openFailed() else {
            Issue.record("nobody waits: the slot is free")
            return
        }
        #expect(pool.openCount == 0)
    }

    @Test func idleConnectionsAreReapedAfterTheIdleTimeout() {
        var pool = Self.machine(max: 2)
        #expect(Self.opened(&pool, "a"))
        #expect(Self.opened(&pool, "b"))
        _ = pool.release(1, isClosed: false, now: Self.t(0))
        _ = pool.release(2, isClosed: false, now: Self.t(30))
        #expect(pool.reap(now: Self.t(59.9)) == [])
        #expect(pool.reap(now: Self.t(60)) == [1])
        #expect(pool.openCount == 1)
        #expect(pool.reap(now: Self.t(90)) == [2])
        #expect(pool.openCount == 0)
    }

    @Test func shutDownClosesTheIdleFailsTheWaitersAndClosesLentOnesWhenTheyComeBack() {
        var pool = Self.machine(max: 2)
        #expect(Self.opened(&pool, "a"))
        #expect(Self.opened(&pool, "b"))
        _ = pool.release(1, isClosed: false, now: Self.t(0))
        _ = pool.lease("c", now: Self.t(0), isClosed: Self.open)  // takes 1
        _ = pool.lease("d", now: Self.t(0), isClosed: Self.open)  // waits
        _ = pool.release(1, isClosed: false, now: Self.t(1))  // to d
        _ = pool.lease("e", now: Self.t(1), isClosed: Self.open)  // waits
        _ = pool.release(2, isClosed: false, now: Self.t(1))  // to e
        _ = pool.release(1, isClosed: false, now: Self.t(2))  // idle
        _ = pool.lease("f", now: Self.t(2), isClosed: Self.open)  // takes 1
        _ = pool.lease("g", now: Self.t(2), isClosed: Self.open)  // waits
        let (idle, waiters) = pool.shutDown()
        #expect(idle == [])
        #expect(waiters == ["g"])
        guard case .close(1) = pool.release(1, isClosed: false, now: Self.t(3)) else {
            Issue.record("a lent connection is closed when it comes back")
            return
        }
        guard case .none = pool.release(2, isClosed: true, now: Self.t(3)) else {
            Issue.record("a broken one only frees its slot")
            return
        }
        #expect(pool.openCount == 0)
        guard case .fail(let error) = pool.lease("h", now: Self.t(4), isClosed: Self.open) else {
            Issue.record("later queries fail")
            return
        }
        #expect(error.reason.contains("shut down"))
    }

    @Test func shutDownReturnsTheIdleConnectionsToClose() {
        var pool = Self.machine(max: 2)
        #expect(Self.opened(&pool, "a"))
        _ = pool.release(1, isClosed: false, now: Self.t(0))
        let (idle, waiters) = pool.shutDown()
        #expect(idle == [1])
        #expect(waiters.isEmpty)
        #expect(pool.openCount == 0)
    }
}
