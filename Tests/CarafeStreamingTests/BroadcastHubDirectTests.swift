import NIOCore
import NIOEmbedded
import Testing

@testable import CarafeHTTP
@testable import CarafeBroadcast
@testable import CarafeStreaming

/// A `BroadcastHub` writing to connections itself (detached streams on `EmbeddedChannel`s, two
/// event loops): each message encoded once and the same bytes sent to all, a slow subscriber
/// bounded by the hub's policy without holding the others, subscribers leaving with their
/// connection. No sockets.
@Suite struct BroadcastHubDirectTests {
    struct Subscriber {
        let channel: EmbeddedChannel
        let stream: DetachedStream
    }

    func subscribe(_ hub: BroadcastHub, on loop: EmbeddedEventLoop, chunked: Bool = true) throws -> Subscriber {
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let stream = DetachedStream(
            channel: channel,
            isChunked: chunked,
            heartbeat: nil,
            writeTimeout: nil,
            heartbeats: LoopHeartbeats(loop: loop),
            completion: nil,
            started: .now(),
            bytesWritten: 0
        )
        try channel.pipeline.syncOperations.addHandler(DetachedStreamHandler(stream: stream))
        hub.subscribe(stream, to: "room", encoding: .serverSentEvents)
        loop.run()
        return Subscriber(channel: channel, stream: stream)
    }

    func written(_ subscriber: Subscriber) throws -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        while let buffer = try subscriber.channel.readOutbound(as: ByteBuffer.self) { out.append(buffer) }
        return out
    }

    @Test func onePublishIsEncodedOnceAndReachesEverySubscriberOfEveryLoop() throws {
        let hub = BroadcastHub()
        let one = EmbeddedEventLoop()
        let two = EmbeddedEventLoop()
        let subscribers = [
            try subscribe(hub, on: one), try subscribe(hub, on: one), try subscribe(hub, on: two),
            try subscribe(hub, on: two, chunked: false),
        ]
        let task = hub.subscribe("room")  // a task subscriber beside them
        #expect(hub.subscriberCount("room") == 5)
        #expect(hub.publish("line 1\nline 2", on: "room") == 5)
        one.run()
        two.run()
        let event = "data: line 1\ndata: line 2\n\n"
        let chunked = try subscribers.prefix(3).map { try written($0) }
        for buffers in chunked { #expect(buffers.map { String(buffer: $0) } == ["1b\r\n\(event)\r\n"]) }
        // The same bytes, not copies: one buffer for all the chunked subscribers.
        let addresses = chunked.map { $0[0].withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        #expect(Set(addresses).count == 1)
        #expect(try written(subscribers[3]).map { String(buffer: $0) } == [event])
        _ = task
    }

    @Test func aSlowSubscriberIsBoundedAndDoesNotHoldTheOthers() throws {
        let hub = BroadcastHub(bufferSize: 2, policy: .dropOldest)
        let loop = EmbeddedEventLoop()
        let slow = try subscribe(hub, on: loop)
        let fast = try subscribe(hub, on: loop)
        slow.channel.isWritable = false
        for n in 1...5 { hub.publish("\(n)", on: "room") }
        loop.run()
        #expect(try written(fast).count == 5)
        #expect(try written(slow).isEmpty)
        #expect(slow.stream.droppedMessages == 3)
        slow.channel.isWritable = true
        slow.channel.pipeline.fireChannelWritabilityChanged()
        #expect(try written(slow).map { String(buffer: $0) } == ["9\r\ndata: 4\n\n\r\n", "9\r\ndata: 5\n\n\r\n"])
    }

    @Test func underDisconnectASlowSubscriberIsClosedAndLeavesTheHub() throws {
        let hub = BroadcastHub(bufferSize: 1, policy: .disconnect)
        let loop = EmbeddedEventLoop()
        let slow = try subscribe(hub, on: loop)
        let fast = try subscribe(hub, on: loop)
        slow.channel.isWritable = false
        for n in 1...3 { hub.publish("\(n)", on: "room") }
        loop.run()
        #expect(slow.stream.isEnded)
        #expect(!slow.channel.isActive)
        #expect(try written(fast).count == 3)
        #expect(hub.subscriberCount("room") == 1)
    }

    @Test func aSubscriberLeavesTheHubWhenItsClientGoes() throws {
        let hub = BroadcastHub()
        let loop = EmbeddedEventLoop()
        let subscriber = try subscribe(hub, on: loop)
        #expect(hub.subscriberCount("room") == 1)
        _ = try subscriber.channel.close().wait()
        loop.run()
        #expect(hub.subscriberCount("room") == 0)
        #expect(hub.publish("nobody", on: "room") == 0)
    }
}

/// The hub's WebSocket encoding: one final, unmasked text frame, its length in the form RFC 6455
/// 5.2 gives for its size.
@Suite struct WebSocketTextEncodingTests {
    @Test(arguments: [0, 125, 126, 65535, 65536])
    func aMessageIsOneTextFrameWithItsLengthInTheRFCsForm(count: Int) {
        let message = String(repeating: "é", count: count / 2) + (count % 2 == 1 ? "x" : "")
        var frame = BroadcastEncoding.webSocketText.encode(message)
        #expect(frame.readInteger(as: UInt8.self) == 0x81)
        let first = frame.readInteger(as: UInt8.self)!
        let length: Int
        switch count {
        case ..<126:
            #expect(first == UInt8(count))
            length = Int(first)
        case ..<65536:
            #expect(first == 126)
            length = Int(frame.readInteger(as: UInt16.self)!)
        default:
            #expect(first == 127)
            length = Int(frame.readInteger(as: UInt64.self)!)
        }
        #expect(length == count)
        #expect(frame.readString(length: frame.readableBytes) == message)
    }
}
