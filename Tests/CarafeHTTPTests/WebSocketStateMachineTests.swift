import NIOCore
import NIOWebSocket
import Testing

@testable import CarafeHTTP

/// `WebSocketStateMachine` without sockets: the close handshake, close-code and reason
/// validation, pings and pongs.
@Suite struct WebSocketStateMachineTests {
    typealias Machine = WebSocketStateMachine

    static func close(_ code: UInt16, _ reason: [UInt8] = []) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(code)
        buffer.writeBytes(reason)
        return buffer
    }

    @Test(arguments: [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999] as [UInt16])
    func anInvalidCloseCodeIsAProtocolError(code: UInt16) {
        var m = Machine()
        let parsed = Machine.parseClose(Self.close(code))
        guard case .invalid(let reason) = parsed else {
            Issue.record("code \(code) accepted")
            return
        }
        #expect(reason.contains("\(code)"))
        let action = m.receivedClose(parsed)
        #expect(action == .fail(reason), "answered with 1002")
        #expect(m.state == .closed)
    }

    @Test(arguments: [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] as [UInt16])
    func aValidCloseCodeIsEchoed(code: UInt16) {
        var m = Machine()
        let action = m.receivedClose(Machine.parseClose(Self.close(code, Array("bye".utf8))))
        #expect(action == .answerAndHangUp(WebSocketErrorCode(codeNumber: Int(code))))
    }

    @Test func aCloseReasonMustBeUTF8AndFitInAControlFrame() {
        #expect(Machine.parseClose(Self.close(1000, [0xCE, 0xBA, 0xE1, 0xBD])) == .invalid("close reason is not valid UTF-8"))
        #expect(Machine.parseClose(Self.close(1000, Array(repeating: 0x61, count: 124))) == .invalid("a close frame over 125 bytes"))
        #expect(Machine.parseClose(Self.close(1000, Array("κόσμε".utf8))) == .valid(code: .normalClosure, reason: "κόσμε"))
        #expect(Machine.parseClose(ByteBuffer(bytes: [0x03])) == .invalid("a close frame with a 1-byte payload"))
    }

    @Test func anEmptyCloseIsAnsweredWith1000() {
        var m = Machine()
        let parsed = Machine.parseClose(ByteBuffer())
        #expect(parsed == .valid(code: nil, reason: ""))
        let r1 = m.receivedClose(parsed)
        #expect(r1 == .answerAndHangUp(.normalClosure))
    }

    @Test func aCloseThisSideBeganCompletesWhenThePeerAnswers() {
        var m = Machine()
        let r2 = m.closeRequested(.goingAway)
        #expect(r2)
        #expect(m.state == .closing(initiator: .server, code: .goingAway))
        #expect(!m.canSend)
        let r3 = m.closeRequested(.normalClosure)
        #expect(!r3, "one close frame only")
        let r4 = m.receivedClose(Machine.parseClose(Self.close(1001)))
        #expect(r4 == .hangUp)
        #expect(m.state == .closed)
    }

    @Test func aFailureSendsACloseOnlyWhileOpen() {
        var m = Machine()
        let r5 = m.fail(.protocolError)
        #expect(r5)
        let r6 = m.fail(.protocolError)
        #expect(!r6)
    }

    @Test func pongsAreMatchedToThePingSent() {
        var m = Machine()
        let r7 = m.pingTimerFired()
        guard case .sendPing(let payload) = r7 else {
            Issue.record("no ping")
            return
        }
        let r8 = m.receivedPong(ByteBuffer(string: "unsolicited"))
        #expect(!r8, "a pong with another payload does not answer")
        let r9 = m.pingTimerFired()
        #expect(r9 == .peerGone, "still waiting for the answer")
        var n = Machine()
        let r10 = n.pingTimerFired()
        guard case .sendPing(let second) = r10 else { return }
        let r11 = n.receivedPong(second)
        #expect(r11)
        #expect(n.pingOutstanding == nil)
        let r12 = n.pingTimerFired()
        guard case .sendPing(let third) = r12 else {
            Issue.record("no second ping")
            return
        }
        #expect(third != second, "each ping has its own payload")
        _ = payload
    }

    @Test func onlyTheLatestUnansweredPingIsAnsweredWhileTheSocketIsFull() {
        var m = Machine()
        let r13 = m.receivedPing(ByteBuffer(string: "a"), writable: true)
        #expect(r13 == .sendPong(ByteBuffer(string: "a")))
        for i in 0..<1000 {
            let r14 = m.receivedPing(ByteBuffer(string: "p\(i)"), writable: false)
            #expect(r14 == .owe)
        }
        let r15 = m.becameWritable()
        #expect(r15 == ByteBuffer(string: "p999"), "one pong, for the latest ping")
        let r16 = m.becameWritable()
        #expect(r16 == nil)
    }
}
