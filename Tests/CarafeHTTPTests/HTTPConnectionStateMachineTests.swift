import NIOCore
import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// `HTTPConnectionStateMachine` driven by events and a manual clock: no sockets, no sleeps.
@Suite struct HTTPConnectionStateMachineTests {
    typealias Machine = HTTPConnectionStateMachine

    /// A manual clock: seconds since an arbitrary start.
    static func at(_ seconds: Double) -> NIODeadline {
        .uptimeNanoseconds(UInt64(1_000_000_000 + seconds * 1_000_000_000))
    }

    var t0: NIODeadline { Self.at(0) }

    // MARK: Requests and keep-alive

    @Test func aRequestWithoutBodyIsDispatchedAnsweredAndTheConnectionKept() {
        var m = Machine()
        let r1 = m.receivedHead(.init(), now: t0)
        #expect(r1 == .dispatch(number: 1, hasBody: false))
        let r2 = m.startResponse(number: 1, wantsClose: false)
        #expect(r2 == .write(close: false))
        let r3 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r3 == .writeEnd)
        #expect(m.isIdle)
        // Its empty `.end` comes through after the answer.
        let r4 = m.receivedEnd(now: t0)
        #expect(r4 == .none)
        let r5 = m.receivedHead(.init(), now: t0)
        #expect(r5 == .dispatch(number: 2, hasBody: false))
    }

    @Test func pipelinedRequestsGetIncreasingNumbersAndStaleCallbacksAreDropped() {
        var m = Machine()
        _ = m.receivedHead(.init(), now: t0)
        _ = m.receivedEnd(now: t0)
        _ = m.startResponse(number: 1, wantsClose: false)
        let r6 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r6 == .writeEnd)
        let r7 = m.receivedHead(.init(), now: t0)
        #expect(r7 == .dispatch(number: 2, hasBody: false))
        let r8 = m.startResponse(number: 1, wantsClose: false)
        #expect(r8 == .drop, "a late callback of request 1")
        let r9 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r9 == .drop)
        #expect(m.isCurrent(2))
    }

    @Test func closeIsDecidedByTheClientTheResponderAndAProtocolSwitch() {
        var m = Machine()
        _ = m.receivedHead(.init(keepAlive: false), now: t0)
        let r10 = m.startResponse(number: 1, wantsClose: false)
        #expect(r10 == .write(close: true))
        let r11 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r11 == .writeEndAndClose)
        #expect(m.isClosed)

        var n = Machine()
        _ = n.receivedHead(.init(), now: t0)
        let r12 = n.startResponse(number: 1, wantsClose: true)
        #expect(r12 == .write(close: true))

        var u = Machine()
        _ = u.receivedHead(.init(asksToSwitchProtocols: true), now: t0)
        let r13 = u.startResponse(number: 1, wantsClose: false)
        #expect(r13 == .write(close: true), "NIO's parser reads nothing after it")
    }

    @Test func anIncompleteResponseClosesWithoutItsEnd() {
        var m = Machine()
        _ = m.receivedHead(.init(), now: t0)
        _ = m.startResponse(number: 1, wantsClose: false)
        let r14 = m.endResponse(number: 1, complete: false, now: t0)
        #expect(r14 == .close)
        #expect(m.isClosed)
    }

    @Test func contentLengthThatOverflowsIs413AndGarbageIs400() {
        func head(_ value: String) -> HTTPRequestHead {
            HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: ["content-length": value])
        }
        #expect(Machine.BodyLength.of(head("9223372036854775808")) == .tooLarge("9223372036854775808"))
        #expect(Machine.BodyLength.of(head("99999999999999999999999")) == .tooLarge("99999999999999999999999"))
        #expect(Machine.BodyLength.of(head("+5")) == .invalid("+5"))
        #expect(Machine.BodyLength.of(head("12")) == .known(12))
        #expect(Machine.BodyLength.of(head("0")) == .none)
        var m = Machine()
        let r15 = m.receivedHead(.init(body: .tooLarge("9223372036854775808")), now: t0)
        guard case .reject(let status, let message) = r15 else {
            Issue.record("not rejected")
            return
        }
        #expect(status == .payloadTooLarge)
        #expect(message.contains("9223372036854775808"))
        #expect(m.isClosed)
        var n = Machine()
        let r16 = n.receivedHead(.init(body: .invalid("x")), now: t0)
        guard case .reject(.badRequest, _) = r16 else {
            Issue.record("not rejected with 400")
            return
        }
    }

    // MARK: Bodies

    @Test func aBodyIsDeliveredAndItsEndFinishesTheStream() {
        var m = Machine()
        let r17 = m.receivedHead(.init(body: .known(10)), now: t0)
        #expect(r17 == .dispatch(number: 1, hasBody: true))
        let r18 = m.receivedBodyPart(bytes: 4, now: t0)
        #expect(r18 == .deliver)
        let r19 = m.receivedBodyPart(bytes: 6, now: t0)
        #expect(r19 == .deliver)
        let r20 = m.receivedEnd(now: t0)
        #expect(r20 == .finishBody)
        let r21 = m.startResponse(number: 1, wantsClose: false)
        #expect(r21 == .write(close: false))
        let r22 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r22 == .writeEnd)
        #expect(m.isIdle)
    }

    @Test func aSmallUnreadBodyIsDiscardedAndTheConnectionKept() {
        var m = Machine()
        _ = m.receivedHead(.init(body: .known(11)), now: t0)
        // 405 before the handler read anything: the 11 bytes are on their way.
        let r23 = m.startResponse(number: 1, wantsClose: false)
        #expect(r23 == .write(close: false))
        let r24 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r24 == .writeEnd)
        #expect(m.isDiscarding)
        let r25 = m.receivedBodyPart(bytes: 11, now: t0)
        #expect(r25 == .drop)
        let r26 = m.receivedEnd(now: t0)
        #expect(r26 == .discardEnded)
        #expect(m.isIdle)
        let r27 = m.receivedHead(.init(), now: t0)
        #expect(r27 == .dispatch(number: 2, hasBody: false), "the pipelined request")
    }

    @Test func aLargeUnreadBodyClosesTheConnection() {
        var m = Machine(timeouts: .init(maxDiscardedBody: 1000))
        _ = m.receivedHead(.init(body: .known(5000)), now: t0)
        let r28 = m.startResponse(number: 1, wantsClose: false)
        #expect(r28 == .write(close: true))
        let r29 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r29 == .writeEndAndClose)
    }

    @Test func aChunkedUnreadBodyIsDiscardedUpToTheLimit() {
        var m = Machine(timeouts: .init(maxDiscardedBody: 1000))
        _ = m.receivedHead(.init(body: .chunked), now: t0)
        // Of unknown length: the connection cannot promise to stay.
        let r30 = m.startResponse(number: 1, wantsClose: false)
        #expect(r30 == .write(close: true))
    }

    @Test func aDiscardThatGrowsPastTheLimitCloses() {
        var m = Machine(timeouts: .init(maxDiscardedBody: 100))
        _ = m.receivedHead(.init(body: .known(100)), now: t0)
        _ = m.receivedBodyPart(bytes: 10, now: t0)
        _ = m.startResponse(number: 1, wantsClose: false)
        _ = m.endResponse(number: 1, complete: true, now: t0)
        let r31 = m.receivedBodyPart(bytes: 50, now: t0)
        #expect(r31 == .drop)
        let r32 = m.receivedBodyPart(bytes: 51, now: t0)
        #expect(r32 == .close)
    }

    @Test func anUnreadBodyBehind100ContinueIsNotWaitedFor() {
        var m = Machine()
        _ = m.receivedHead(.init(body: .known(10), expectContinue: true), now: t0)
        // The client waits for `100 Continue` that never comes: it may never send the body.
        let r33 = m.startResponse(number: 1, wantsClose: false)
        #expect(r33 == .write(close: true))
    }

    @Test func continueIsSentOnceAndOnlyBeforeTheResponse() {
        var m = Machine()
        _ = m.receivedHead(.init(body: .known(10), expectContinue: true), now: t0)
        let r34 = m.continueRequested(number: 1)
        #expect(r34)
        let r35 = m.continueRequested(number: 1)
        #expect(!r35)
        var n = Machine()
        _ = n.receivedHead(.init(body: .known(10), expectContinue: true), now: t0)
        _ = n.startResponse(number: 1, wantsClose: false)
        let r36 = n.continueRequested(number: 1)
        #expect(!r36)
    }

    // MARK: The read gate

    @Test func readingPausesWhileTheConsumerHasEnoughAndResumesWithTheHeldRead() {
        var m = Machine()
        _ = m.receivedHead(.init(body: .known(1000)), now: t0)
        m.bodyConsumerPaused(now: t0)
        let r37 = m.readRequested()
        #expect(!r37)
        let r38 = m.takeReleasedRead()
        #expect(!r38)
        m.bodyConsumerResumed(number: 1, now: Self.at(1))
        let r39 = m.takeReleasedRead()
        #expect(r39, "the held-back read goes out")
        let r40 = m.readRequested()
        #expect(r40)
    }

    @Test func readingPausesWhileTheSocketIsNotWritable() {
        var m = Machine()
        m.writabilityChanged(writable: false, now: t0)
        let r41 = m.readRequested()
        #expect(!r41, "a pipelining client that does not read is not read further")
        m.writabilityChanged(writable: true, now: Self.at(1))
        let r42 = m.takeReleasedRead()
        #expect(r42)
    }

    @Test func theEndOfABodyLiftsTheConsumersPause() {
        var m = Machine()
        _ = m.receivedHead(.init(body: .known(10)), now: t0)
        m.bodyConsumerPaused(now: t0)
        _ = m.readRequested()
        _ = m.receivedEnd(now: t0)
        let r43 = m.takeReleasedRead()
        #expect(r43, "the next request must not wait for a consumer that is done")
    }

    // MARK: Deadlines

    @Test func aBodyThatStopsGets408AfterTheBodyTimeout() {
        var m = Machine(timeouts: .init(bodyTimeout: .seconds(20), bodyMinRate: nil))
        _ = m.receivedHead(.init(body: .known(100)), now: t0)
        _ = m.receivedBodyPart(bytes: 10, now: Self.at(5))
        #expect(m.nextDeadline?.at == Self.at(25))
        let r44 = m.timerFired(now: Self.at(24))
        #expect(r44 == .none)
        let r45 = m.timerFired(now: Self.at(25))
        guard case .reject(.requestTimeout, let message, _) = r45 else {
            Issue.record("no 408")
            return
        }
        #expect(message.contains("20 s"))
        #expect(m.isClosed)
    }

    @Test func aSlowDripBodyIsCutOffByTheMinimumRate() {
        var m = Machine(timeouts: .init(bodyTimeout: .seconds(20), bodyMinRate: 500))
        _ = m.receivedHead(.init(body: .known(1_000_000)), now: t0)
        // One byte every 3 s: never idle for 20 s, but far below 500 bytes/s.
        var now = 0.0
        var action = Machine.TimerAction.none
        while now < 120 {
            now += 3
            if let deadline = m.nextDeadline, deadline.at <= Self.at(now) {
                action = m.timerFired(now: Self.at(now))
                break
            }
            _ = m.receivedBodyPart(bytes: 1, now: Self.at(now))
        }
        guard case .reject(.requestTimeout, let message, _) = action else {
            Issue.record("a slow-drip client outlasted the minimum rate: \(action)")
            return
        }
        #expect(now <= 24, "cut off after the grace period, not later")
        #expect(message.contains("500 bytes/s"))
    }

    @Test func aBodyAtTheMinimumRateGoesOn() {
        var m = Machine(timeouts: .init(bodyTimeout: .seconds(20), bodyMinRate: 500))
        _ = m.receivedHead(.init(body: .known(10_000_000)), now: t0)
        for second in 1...100 {
            _ = m.receivedBodyPart(bytes: 600, now: Self.at(Double(second)))
            let r46 = m.timerFired(now: Self.at(Double(second)))
            #expect(r46 == .none)
        }
    }

    @Test func timeTheConsumerSpendsNotReadingIsNotCountedAgainstTheClient() {
        var m = Machine(timeouts: .init(bodyTimeout: .seconds(20), bodyMinRate: 500))
        _ = m.receivedHead(.init(body: .known(1000)), now: t0)
        m.bodyConsumerPaused(now: Self.at(1))
        #expect(m.nextDeadline == nil)
        m.bodyConsumerResumed(number: 1, now: Self.at(100))
        let r47 = m.timerFired(now: Self.at(110))
        #expect(r47 == .none)
        #expect(m.nextDeadline!.at > Self.at(110))
    }

    @Test func aBodyTimeoutAfterTheResponseStartedCloses() {
        var m = Machine(timeouts: .init(bodyTimeout: .seconds(5), bodyMinRate: nil))
        _ = m.receivedHead(.init(body: .known(100)), now: t0)
        _ = m.startResponse(number: 1, wantsClose: false)
        let r48 = m.timerFired(now: Self.at(5))
        guard case .close = r48 else {
            Issue.record("no close")
            return
        }
    }

    @Test func aDiscardThatStallsCloses() {
        var m = Machine(timeouts: .init(bodyTimeout: .seconds(5), bodyMinRate: nil))
        _ = m.receivedHead(.init(body: .known(100)), now: t0)
        _ = m.startResponse(number: 1, wantsClose: false)
        _ = m.endResponse(number: 1, complete: true, now: Self.at(1))
        #expect(m.nextDeadline?.limit == .discard)
        let r49 = m.timerFired(now: Self.at(6))
        guard case .close = r49 else {
            Issue.record("no close")
            return
        }
    }

    @Test func theHandlerTimeoutAnswers503UntilTheResponseStarts() {
        var m = Machine(timeouts: .init(handlerTimeout: .seconds(30)))
        _ = m.receivedHead(.init(), now: t0)
        #expect(m.nextDeadline?.limit == .handler)
        let r50 = m.timerFired(now: Self.at(30))
        guard case .reject(.serviceUnavailable, let message, retryAfter: true) = r50 else {
            Issue.record("no 503")
            return
        }
        #expect(message.contains("30 s"))
        let r51 = m.startResponse(number: 1, wantsClose: false)
        #expect(r51 == .drop, "the handler's late answer is dropped")

        var n = Machine(timeouts: .init(handlerTimeout: .seconds(30)))
        _ = n.receivedHead(.init(), now: t0)
        _ = n.startResponse(number: 1, wantsClose: false)
        #expect(n.nextDeadline == nil, "a streaming response is not cut short by the handler timeout")
    }

    @Test func aRoutesOwnDeadlineReplacesTheAppWideOneCountedFromTheHead() {
        // Shorter than the app-wide one, set once the route is known; it counts from the head.
        var m = Machine(timeouts: .init(handlerTimeout: .seconds(30)))
        _ = m.receivedHead(.init(), now: t0)
        let r1x = m.setHandlerTimeout(number: 1, .seconds(5), origin: "the timeout of route GET /report")
        #expect(r1x)
        #expect(m.nextDeadline?.at == Self.at(5) && m.nextDeadline?.limit == .handler)
        let r2x = m.timerFired(now: Self.at(4.9))
        #expect(r2x == .none, "not yet")
        let fired = m.timerFired(now: Self.at(5))
        guard case .reject(.serviceUnavailable, let message, retryAfter: true) = fired else {
            Issue.record("no 503: \(fired)")
            return
        }
        #expect(message == "The handler did not answer within 5 s (the timeout of route GET /report).")

        // Longer than the app-wide one: the route's wins.
        var n = Machine(timeouts: .init(handlerTimeout: .seconds(2)))
        _ = n.receivedHead(.init(), now: t0)
        n.setHandlerTimeout(number: 1, .milliseconds(10_500), origin: "the timeout of blueprint 'reports'")
        let r3x = n.timerFired(now: Self.at(3))
        #expect(r3x == .none, "the app-wide 2 s no longer applies")
        guard case .reject(_, let longer, _) = n.timerFired(now: Self.at(10.5)) else {
            Issue.record("no 503")
            return
        }
        #expect(longer.contains("10500 ms (the timeout of blueprint 'reports')"), "\(longer)")
    }

    @Test func aRouteDeadlineAppliesWithoutAnAppWideOneAndNotOnceTheResponseStarted() {
        var m = Machine(timeouts: .init(handlerTimeout: nil))
        _ = m.receivedHead(.init(), now: t0)
        #expect(m.nextDeadline == nil)
        let r4x = m.setHandlerTimeout(number: 2, .seconds(1), origin: "x")
        #expect(!r4x, "a request that is not current")
        let r5x = m.setHandlerTimeout(number: 1, .seconds(1), origin: "the timeout of route GET /slow")
        #expect(r5x)
        #expect(m.nextDeadline?.limit == .handler)
        _ = m.startResponse(number: 1, wantsClose: false)
        #expect(m.nextDeadline == nil, "a started (streamed) response is not cut short")
        let r6x = m.setHandlerTimeout(number: 1, .seconds(1), origin: "x")
        #expect(!r6x, "too late once the head is out")
        let r7x = m.endResponse(number: 1, complete: true, now: Self.at(3))
        #expect(r7x == .writeEnd)

        // The next request starts without the last one's route deadline.
        _ = m.receivedEnd(now: Self.at(3))
        _ = m.receivedHead(.init(), now: Self.at(4))
        #expect(m.nextDeadline == nil)
    }

    @Test func theAppWideDeadlineNamesItselfInThe503() {
        var m = Machine(timeouts: .init(handlerTimeout: .milliseconds(1500)))
        _ = m.receivedHead(.init(), now: t0)
        guard case .reject(_, let message, _) = m.timerFired(now: Self.at(2)) else {
            Issue.record("no 503")
            return
        }
        #expect(message == "The handler did not answer within 1500 ms (the handler timeout).")
    }

    @Test func aSocketNotWritableForTheWriteTimeoutCloses() {
        var m = Machine(timeouts: .init(writeTimeout: .seconds(60)))
        _ = m.receivedHead(.init(), now: t0)
        _ = m.startResponse(number: 1, wantsClose: false)
        m.writabilityChanged(writable: false, now: Self.at(1))
        m.writabilityChanged(writable: false, now: Self.at(30))
        #expect(m.nextDeadline?.at == Self.at(61))
        m.writabilityChanged(writable: true, now: Self.at(40))
        #expect(m.nextDeadline == nil)
        m.writabilityChanged(writable: false, now: Self.at(50))
        let r52 = m.timerFired(now: Self.at(110))
        guard case .close(let reason) = r52 else {
            Issue.record("no close")
            return
        }
        #expect(reason.contains("write timeout"))
    }

    // MARK: Draining

    @Test func quiesceWhileIdleKeepsTheConnectionForOneMoreRequestAnsweredWithClose() {
        var m = Machine()
        let r53 = m.quiesce(.linger)
        #expect(r53 == .none)
        #expect(!m.isClosed, "a request the client is already sending must be answered")
        let r54 = m.receivedHead(.init(), now: t0)
        #expect(r54 == .dispatch(number: 1, hasBody: false))
        let r55 = m.startResponse(number: 1, wantsClose: false)
        #expect(r55 == .write(close: true))
        let r56 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r56 == .writeEndAndClose)
    }

    @Test func quiesceWhileIdleInAQuickStopCloses() {
        var m = Machine()
        let r57 = m.quiesce(.closeIdle)
        #expect(r57 == .close)
        #expect(m.isClosed)
    }

    @Test func quiesceMidBodyAnswersWithClose() {
        var m = Machine()
        _ = m.receivedHead(.init(body: .known(10)), now: t0)
        _ = m.receivedBodyPart(bytes: 5, now: t0)
        let r58 = m.quiesce(.linger)
        #expect(r58 == .none)
        _ = m.receivedBodyPart(bytes: 5, now: t0)
        _ = m.receivedEnd(now: t0)
        let r59 = m.startResponse(number: 1, wantsClose: false)
        #expect(r59 == .write(close: true))
        let r60 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r60 == .writeEndAndClose)
    }

    @Test func quiesceMidStreamLetsTheStreamEndThenKeepsTheConnectionIdle() {
        var m = Machine()
        _ = m.receivedHead(.init(), now: t0)
        _ = m.receivedEnd(now: t0)
        let r61 = m.startResponse(number: 1, wantsClose: false)
        #expect(r61 == .write(close: false))
        let r62 = m.quiesce(.linger)
        #expect(r62 == .none)
        // The head promised keep-alive: closing now would race with the client's next request.
        let r63 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r63 == .writeEnd)
        _ = m.receivedHead(.init(), now: t0)
        let r64 = m.startResponse(number: 2, wantsClose: false)
        #expect(r64 == .write(close: true))
    }

    @Test func quiesceMidStreamInAQuickStopClosesAtTheEnd() {
        var m = Machine()
        _ = m.receivedHead(.init(), now: t0)
        _ = m.startResponse(number: 1, wantsClose: false)
        _ = m.quiesce(.closeIdle)
        let r65 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r65 == .writeEndAndClose)
    }

    // MARK: Half-close, errors, protocol switch

    @Test func halfCloseWhileIdleCloses() {
        var m = Machine()
        let r66 = m.inputClosed()
        #expect(r66 == .close)
    }

    @Test func halfCloseMidRequestCancelsItAndClosesAfterTheResponse() {
        var m = Machine()
        _ = m.receivedHead(.init(body: .known(10)), now: t0)
        let r67 = m.inputClosed()
        #expect(r67 == .cancelRequest)
        let r68 = m.startResponse(number: 1, wantsClose: false)
        #expect(r68 == .write(close: true))
        let r69 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r69 == .writeEndAndClose)
    }

    @Test func halfCloseAfterAKeepAliveHeadClosesAtTheEnd() {
        var m = Machine()
        _ = m.receivedHead(.init(), now: t0)
        _ = m.startResponse(number: 1, wantsClose: false)
        _ = m.inputClosed()
        let r70 = m.endResponse(number: 1, complete: true, now: t0)
        #expect(r70 == .writeEndAndClose)
    }

    @Test func aParserErrorIsRejectedBeforeAResponseAndClosedAfter() {
        var m = Machine()
        let r71 = m.parserError()
        #expect(r71 == .reject)
        var n = Machine()
        _ = n.receivedHead(.init(body: .chunked), now: t0)
        _ = n.startResponse(number: 1, wantsClose: false)
        let r72 = n.parserError()
        #expect(r72 == .close)
    }

    @Test func aProtocolSwitchWaitsForTheRequestsEnd() {
        var m = Machine()
        _ = m.receivedHead(.init(asksToSwitchProtocols: true), now: t0)
        let r73 = m.switchingProtocols(number: 1)
        #expect(r73 == .afterEnd)
        let r74 = m.receivedEnd(now: t0)
        #expect(r74 == .switchProtocols)
        #expect(m.isUpgraded)
        var n = Machine()
        _ = n.receivedHead(.init(asksToSwitchProtocols: true), now: t0)
        _ = n.receivedEnd(now: t0)
        let r75 = n.switchingProtocols(number: 1)
        #expect(r75 == .switchNow)
        let r76 = n.switchingProtocols(number: 1)
        #expect(r76 == .drop)
    }

    @Test func anHTTP2ExtendedConnectBecomesATunnelWithoutWaitingForAnEnd() {
        // Its stream's END_STREAM would end the tunnel: there is no request end to wait for.
        var m = Machine()
        _ = m.receivedHead(.init(asksToSwitchProtocols: true), now: t0)
        let opened = m.openingTunnel(number: 1)
        #expect(opened)
        #expect(m.isUpgraded)
        let again = m.openingTunnel(number: 1)
        #expect(!again)
        // Not once its response has started, nor for a request that is not current.
        var n = Machine()
        _ = n.receivedHead(.init(), now: t0)
        _ = n.startResponse(number: 1, wantsClose: false)
        let started = n.openingTunnel(number: 1)
        let stale = n.openingTunnel(number: 2)
        #expect(!started && !stale)
    }

    @Test func aStartedStreamDetachesOnceTheRequestHasEnded() {
        // Not before its head is out.
        var m = Machine()
        _ = m.receivedHead(.init(), now: t0)
        #expect(m.detachingStream(number: 1) == .drop)
        // Head out, `.end` still to come: after it.
        _ = m.startResponse(number: 1, wantsClose: false)
        #expect(m.detachingStream(number: 1) == .afterEnd)
        #expect(m.receivedEnd(now: t0) == .switchProtocols)
        #expect(m.isUpgraded)
        // The response's own end is then no longer the machine's business.
        #expect(m.endResponse(number: 1, complete: true, now: t0) == .drop)
        // `.end` already in: at once, and only once.
        var n = Machine()
        _ = n.receivedHead(.init(), now: t0)
        _ = n.receivedEnd(now: t0)
        _ = n.startResponse(number: 1, wantsClose: false)
        #expect(n.detachingStream(number: 1) == .switchNow)
        #expect(n.detachingStream(number: 1) == .drop)
        // A body still arriving keeps the stream with its task; a stale number is dropped.
        var b = Machine()
        _ = b.receivedHead(.init(body: .chunked), now: t0)
        _ = b.startResponse(number: 1, wantsClose: false)
        #expect(b.detachingStream(number: 1) == .drop)
        #expect(b.detachingStream(number: 2) == .drop)
    }

    @Test func aHeadOutOfOrderCloses() {
        var m = Machine()
        _ = m.receivedHead(.init(), now: t0)
        let r77 = m.receivedHead(.init(), now: t0)
        #expect(r77 == .close)
    }
}
