import NIOCore
import Testing

@testable import CarafeHTTP

/// `HTTPServerStateMachine` driven by events and a manual clock: no sockets, no sleeps.
/// Listeners are numbers and waiters strings.
@Suite struct HTTPServerStateMachineTests {
    typealias Machine = HTTPServerStateMachine<Int, String>

    static func at(_ seconds: Double) -> NIODeadline {
        .uptimeNanoseconds(UInt64(1_000_000_000 + seconds * 1_000_000_000))
    }

    func serving(_ listeners: [Int] = [1, 2], maxConnections: Int? = nil, maxRequests: Int? = nil) -> Machine {
        var m = Machine(gracefulTimeout: .seconds(30), maxConnections: maxConnections, maxRequests: maxRequests)
        #expect(m.start() == .bind)
        for listener in listeners {
            guard case .keep = m.bound(listener) else {
                Issue.record("listener \(listener) not kept")
                return m
            }
        }
        m.started()
        return m
    }

    @Test func startBindsOnceAndServesOnWhatWasBound() {
        var m = self.serving([7, 8])
        #expect(m.listeners == [7, 8])
        #expect(!m.isDraining)
        #expect(m.start() == .refuse("the server was started already"))
    }

    @Test func shutdownClosesTheListenersAndSetsTheGracefulDeadlineFromTheClock() {
        var m = self.serving()
        guard case .drain(let listeners, let deadline) = m.shutdown(closingIdle: false, now: Self.at(5)) else {
            Issue.record("no drain")
            return
        }
        #expect(listeners == [1, 2])
        #expect(deadline == Self.at(35))
        #expect(m.isDraining)
        #expect(m.listeners.isEmpty, "nothing accepts once the drain began")
        #expect(m.drainMode == .linger, "idle keep-alive connections linger for one more request by default")
    }

    @Test func aSecondShutdownOnlyWaitsButMayStillCloseIdleConnections() {
        var m = self.serving()
        _ = m.shutdown(closingIdle: false, now: Self.at(0))
        guard case .waitForStop = m.shutdown(closingIdle: true, now: Self.at(1)) else {
            Issue.record("a second shutdown drained again")
            return
        }
        #expect(m.drainMode == .closeIdle)
    }

    @Test func drainedRunsTheHooksInOrderOnceThenTheWaitersAreResumed() {
        var m = self.serving()
        #expect(m.addBeforeLoopsStop {})
        #expect(m.addBeforeLoopsStop {})
        #expect(m.waitUntilStopped("serve") == .wait)
        _ = m.shutdown(closingIdle: false, now: Self.at(0))
        guard case .stopLoops(let hooks) = m.drained() else {
            Issue.record("drained did not stop the loops")
            return
        }
        #expect(hooks.count == 2)
        guard case .none = m.drained() else {
            Issue.record("the hooks were handed out twice")
            return
        }
        #expect(!m.addBeforeLoopsStop {}, "a hook added while the loops stop would never run")
        #expect(m.waitUntilStopped("late") == .wait)
        #expect(m.loopsStopped() == ["serve", "late"])
        #expect(m.waitUntilStopped("after") == .resume)
        #expect(m.start() == .refuse("the server was shut down; a stopped server does not start again"))
    }

    @Test func aShutdownBeforeStartStopsTheLoopsWithNothingToClose() {
        var m = Machine(gracefulTimeout: .seconds(1))
        guard case .drain(let listeners, _) = m.shutdown(closingIdle: false, now: Self.at(0)) else {
            Issue.record("no drain")
            return
        }
        #expect(listeners.isEmpty)
        #expect(m.start() != .bind)
    }

    @Test func aListenerBoundAfterAShutdownBeganIsClosedAtOnce() {
        var m = Machine(gracefulTimeout: .seconds(1))
        #expect(m.start() == .bind)
        guard case .keep = m.bound(1) else { Issue.record("first listener not kept"); return }
        guard case .drain(let listeners, _) = m.shutdown(closingIdle: false, now: Self.at(0)) else {
            Issue.record("no drain"); return
        }
        #expect(listeners == [1])
        guard case .close(let late) = m.bound(2) else { Issue.record("a late listener was kept"); return }
        #expect(late == 2)
        m.started()
        #expect(m.isDraining, "started() after a shutdown does not bring the server back")
    }

    @Test func theConnectionLimitPausesAndResumesAcceptingButNotWhileDraining() {
        var m = self.serving(maxConnections: 2)
        #expect(m.connectionOpened() == .none)
        #expect(m.connectionOpened() == .pauseAccepting(limit: 2))
        #expect(m.connectionOpened() == .none, "paused once")
        #expect(m.connectionClosed() == .none, "still at the limit")
        #expect(m.connectionClosed() == .resumeAccepting)
        #expect(m.connectionOpened() == .pauseAccepting(limit: 2))
        _ = m.shutdown(closingIdle: false, now: Self.at(0))
        #expect(m.connectionClosed() == .none, "a draining server's listeners are closed")
    }

    @Test func theLastRequestOfMaxRequestsStartsTheDrainInTheSameStep() {
        var m = self.serving(maxRequests: 3)
        for _ in 1...2 {
            guard case .none = m.requestReceived(now: Self.at(1)) else { Issue.record("stopped early"); return }
        }
        #expect(!m.isDraining)
        guard case .limitReached(let count, .drain(let listeners, let deadline)) = m.requestReceived(now: Self.at(2)) else {
            Issue.record("the limit did not start the drain"); return
        }
        #expect(count == 3)
        #expect(listeners == [1, 2])
        #expect(deadline == Self.at(32))
        #expect(m.isDraining, "the response to that request closes its connection")
        guard case .none = m.requestReceived(now: Self.at(3)) else { Issue.record("the limit fired twice"); return }
        #expect(m.requestsServed == 4)
    }

    @Test func closingAllConnectionsClosesIdleOnes() {
        var m = self.serving()
        m.closeAllConnections()
        #expect(m.drainMode == .closeIdle)
    }
}
