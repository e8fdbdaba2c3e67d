import NIOCore
import NIOEmbedded
import Testing

@testable import CarafeHTTP

/// The state of detached streams without sockets: the slow-consumer queue, the heartbeat
/// wheel (ticks as a manual clock), and a `DetachedStream` on an `EmbeddedChannel` whose
/// writability the test sets and whose loop's time it advances.
@Suite struct DetachedStreamTests {
    // MARK: SlowConsumerQueue

    @Test func aWritableSocketTakesEachMessageAtOnce() {
        var queue = SlowConsumerQueue<Int>(limit: 2, policy: .dropOldest)
        guard case .write(1) = queue.offer(1, writable: true) else { Issue.record("not written"); return }
        #expect(queue.waiting?.isEmpty ?? true)
    }

    @Test func dropOldestKeepsTheNewestMessagesWithinTheLimit() {
        var queue = SlowConsumerQueue<Int>(limit: 2, policy: .dropOldest)
        for message in 1...2 {
            guard case .queued = queue.offer(message, writable: false) else { Issue.record("not queued"); return }
        }
        guard case .droppedOldest = queue.offer(3, writable: false) else { Issue.record("not dropped"); return }
        guard case .droppedOldest = queue.offer(4, writable: false) else { Issue.record("not dropped"); return }
        #expect(Array(queue.waiting ?? []) == [3, 4])
        #expect(queue.dropped == 2)
        // While messages wait, a new one queues behind them even if the socket took more.
        guard case .droppedOldest = queue.offer(5, writable: true) else { Issue.record("jumped the queue"); return }
        #expect(Array(queue.drain()) == [4, 5])
        #expect(queue.waiting?.isEmpty ?? true)
        guard case .write(6) = queue.offer(6, writable: true) else { Issue.record("not written"); return }
    }

    @Test func closePolicyEndsTheStreamPastTheLimit() {
        var queue = SlowConsumerQueue<Int>(limit: 1, policy: .close)
        guard case .queued = queue.offer(1, writable: false) else { Issue.record("not queued"); return }
        guard case .close = queue.offer(2, writable: false) else { Issue.record("not closed"); return }
        #expect(Array(queue.waiting ?? []) == [1])
    }

    // MARK: HeartbeatWheel

    /// Advances `wheel` by `ticks`, returning what beat at which tick.
    func run(_ wheel: inout HeartbeatWheel, ticks: Int) -> [(tick: Int, ids: [Int])] {
        var beats: [(Int, [Int])] = []
        for _ in 0..<ticks {
            let due = wheel.advance()
            if !due.isEmpty { beats.append((wheel.now, due.sorted())) }
        }
        return beats
    }

    @Test func aQuietStreamBeatsEveryInterval() {
        var wheel = HeartbeatWheel(slots: 8)
        wheel.insert(1, every: 3)
        wheel.insert(2, every: 5)
        let beats = run(&wheel, ticks: 15)
        #expect(beats.map(\.tick) == [3, 5, 6, 9, 10, 12, 15])
        #expect(beats.first { $0.tick == 15 }?.ids == [1, 2])
    }

    @Test func aWriteMovesTheNextBeatBack() {
        var wheel = HeartbeatWheel(slots: 8)
        wheel.insert(1, every: 4)
        _ = run(&wheel, ticks: 2)
        wheel.touched(1)  // at tick 2: due at 6, not 4
        let beats = run(&wheel, ticks: 8)
        #expect(beats.map(\.tick) == [6, 10])
    }

    @Test func intervalsLongerThanTheWheelTakeSeveralTurns() {
        var wheel = HeartbeatWheel(slots: 4)
        wheel.insert(1, every: 10)
        #expect(run(&wheel, ticks: 25).map(\.tick) == [10, 20])
    }

    @Test func aRemovedStreamNeverBeats() {
        var wheel = HeartbeatWheel(slots: 8)
        wheel.insert(1, every: 2)
        wheel.insert(2, every: 2)
        wheel.remove(1)
        #expect(run(&wheel, ticks: 4).flatMap(\.ids) == [2, 2])
        #expect(wheel.count == 1)
        wheel.remove(2)
        #expect(wheel.isEmpty)
    }

    // MARK: DetachedStream on an EmbeddedChannel

    func makeStream(
        heartbeat: TimeAmount? = .seconds(1),
        writeTimeout: TimeAmount? = .seconds(5)
    ) throws -> (EmbeddedChannel, DetachedStream, LoopHeartbeats, ResponseCompletion) {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let heartbeats = LoopHeartbeats(loop: channel.embeddedEventLoop)
        let completion = ResponseCompletion()
        let stream = DetachedStream(
            channel: channel,
            isChunked: true,
            heartbeat: heartbeat.map { ($0, ByteBuffer(string: ": ping\n\n")) },
            writeTimeout: writeTimeout,
            heartbeats: heartbeats,
            completion: completion,
            started: .now(),
            bytesWritten: 10
        )
        try channel.pipeline.syncOperations.addHandler(DetachedStreamHandler(stream: stream))
        return (channel, stream, heartbeats, completion)
    }

    /// The summary `completion` finished with, if it has.
    func summary(of completion: ResponseCompletion) -> ResponseSummary? {
        final class Box: @unchecked Sendable { var summary: ResponseSummary? }
        let box = Box()
        completion.whenFinished { box.summary = $0 }
        return box.summary
    }

    func written(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out.append(String(buffer: buffer)) }
        return out
    }

    @Test func writesGoOutAsChunksAndHeartbeatsFillTheSilences() throws {
        let (channel, stream, heartbeats, _) = try makeStream()
        stream.write(DetachedStream.chunk(ByteBuffer(string: "data: a\n\n")))
        #expect(try written(channel) == ["9\r\ndata: a\n\n\r\n"])
        #expect(heartbeats.count == 1)
        // The loop's one timer ticks every 100 ms; the beat comes 1 s after the last write.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
        #expect(try written(channel).isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
        #expect(try written(channel) == ["8\r\n: ping\n\n\r\n"])
        stream.finish()
        #expect(try written(channel) == ["0\r\n\r\n"])
        #expect(heartbeats.count == 0)
        #expect(stream.isEnded)
    }

    @Test func aSlowClientQueuesAtMostTheLimitAndGetsThemWhenItDrains() throws {
        let (channel, stream, _, _) = try makeStream()
        stream.limitQueue(to: 2, policy: .dropOldest)
        channel.isWritable = false
        for text in ["1", "2", "3"] { stream.write(ByteBuffer(string: text)) }
        #expect(try written(channel).isEmpty)
        #expect(stream.droppedMessages == 1)
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(try written(channel) == ["2", "3"])
        #expect(!stream.isEnded)
    }

    @Test func underTheClosePolicyAnOverflowingClientIsDisconnected() throws {
        let (channel, stream, heartbeats, completion) = try makeStream()
        stream.limitQueue(to: 1, policy: .close)
        var ends = 0
        stream.onEnd { ends += 1 }
        channel.isWritable = false
        stream.write(ByteBuffer(string: "1"))
        #expect(!stream.isEnded)
        stream.write(ByteBuffer(string: "2"))
        #expect(stream.isEnded)
        #expect(ends == 1)
        #expect(heartbeats.count == 0)
        #expect(!channel.isActive)
        #expect(summary(of: completion)?.complete == false)
    }

    @Test func aSocketFullForTheWriteTimeoutCloses() throws {
        let (channel, stream, _, _) = try makeStream(heartbeat: .seconds(1), writeTimeout: .seconds(2))
        channel.isWritable = false
        stream.write(ByteBuffer(string: "1"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!stream.isEnded)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(stream.isEnded)
        #expect(!channel.isActive)
    }

    @Test func theClientLeavingEndsTheStreamAndReportsWhatWasWritten() throws {
        let (channel, stream, heartbeats, completion) = try makeStream()
        var ended = false
        stream.onEnd { ended = true }
        stream.write(ByteBuffer(string: "12345"))
        _ = try channel.close().wait()
        #expect(ended)
        #expect(heartbeats.count == 0)
        #expect(summary(of: completion)?.bytes == 15)
        // What the client sends meanwhile is dropped, and a drain ends the stream properly.
        let (other, second, _, _) = try makeStream()
        try other.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(!second.isEnded)
        other.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(second.isEnded)
        #expect(try written(other) == ["0\r\n\r\n"])
    }
}
