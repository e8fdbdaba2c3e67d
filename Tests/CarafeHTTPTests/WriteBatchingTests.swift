import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// How responses reach the socket: one flush per read of pipelined requests (the HTTP/1
/// handler), and one buffer per flush over TLS (`WriteCoalescingHandler`). On an
/// `EmbeddedChannel`, with a handler at the head that counts what goes out. (An answer that
/// comes after the read, from a suspended task, is flushed at once: every socket test with an
/// async responder depends on that.)
@Suite struct WriteBatchingTests {
    /// Counts the flushes and writes that reach the head of the pipeline.
    final class OutboundCounter: ChannelOutboundHandler {
        typealias OutboundIn = IOData
        var writes: [Int] = []
        var flushes = 0
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if case .byteBuffer(let buffer) = self.unwrapOutboundIn(data) { self.writes.append(buffer.readableBytes) }
            context.write(data, promise: promise)
        }
        func flush(context: ChannelHandlerContext) {
            self.flushes += 1
            context.flush()
        }
    }

    /// An HTTP/1 connection on an embedded channel, as `HTTPServer` builds it (without the
    /// connection guard), answering with `responder`.
    static func connection(_ responder: some HTTPResponder) throws -> (EmbeddedChannel, OutboundCounter) {
        let channel = EmbeddedChannel()
        let counter = OutboundCounter()
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(counter)
        try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: false)
        var configuration = HTTPServerConfiguration()
        configuration.serverName = "Carafe"
        try sync.addHandler(
            HTTPRequestHandler(
                configuration: configuration,
                responder: responder,
                loop: EventLoopResources(channel.eventLoop),
                server: HTTPServer.SharedState(
                    logger: Logger(label: "test"),
                    machine: HTTPServer.StateMachine(gracefulTimeout: .seconds(1), maxConnections: nil, maxRequests: nil)
                ),
                connectionGuard: nil
            )
        )
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, counter)
    }

    static let hello = ClosureResponder { _ in .text("Hello, World!") }

    /// Everything written to the channel so far, as text.
    static func output(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test func pipelinedRequestsInOneReadAreAnsweredWithOneFlush() throws {
        let (channel, counter) = try Self.connection(Self.hello)
        defer { _ = try? channel.finish() }
        var requests = ""
        for index in 0..<16 { requests += "GET /\(index) HTTP/1.1\r\nHost: x\r\n\r\n" }
        try channel.writeInbound(ByteBuffer(string: requests))
        let output = try Self.output(channel)
        #expect(output.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == 16, "all 16 answered: \(output)")
        #expect(counter.flushes == 1, "one flush for the read's 16 answers, not \(counter.flushes)")
    }

    @Test func theCoalescerJoinsAResponsesPartsIntoOneWrite() throws {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        let counter = OutboundCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(WriteCoalescingHandler(limit: 1024))
        let head = channel.eventLoop.makePromise(of: Void.self)
        let body = channel.eventLoop.makePromise(of: Void.self)
        channel.write(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"), promise: head)
        channel.write(ByteBuffer(string: "hello"), promise: body)
        channel.write(ByteBuffer(), promise: nil)
        #expect(counter.writes.isEmpty, "nothing goes out before the flush")
        channel.flush()
        #expect(counter.writes == [43], "one write of head and body: \(counter.writes)")
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
        var completed = 0
        head.futureResult.whenSuccess { completed += 1 }
        body.futureResult.whenSuccess { completed += 1 }
        #expect(completed == 2, "both writes' promises completed")
    }

    @Test func theCoalescerPassesLargeWritesThroughUncopiedAndInOrder() throws {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        let counter = OutboundCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(WriteCoalescingHandler(limit: 1024))
        channel.write(ByteBuffer(string: "a"), promise: nil)
        channel.write(ByteBuffer(string: "b"), promise: nil)
        channel.write(ByteBuffer(repeating: UInt8(ascii: "c"), count: 4096), promise: nil)
        channel.write(ByteBuffer(repeating: UInt8(ascii: "d"), count: 1000), promise: nil)
        channel.write(ByteBuffer(repeating: UInt8(ascii: "e"), count: 100), promise: nil)
        channel.flush()
        // "ab" joined, the large one alone, then "d…" (1000) and "e…" (100) apart: joined they
        // would pass the limit.
        #expect(counter.writes == [2, 4096, 1000, 100])
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        #expect(text == "ab" + String(repeating: "c", count: 4096) + String(repeating: "d", count: 1000) + String(repeating: "e", count: 100))
    }

    @Test func theCoalescerHoldsNothingAcrossAClose() throws {
        let channel = EmbeddedChannel()
        let counter = OutboundCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(WriteCoalescingHandler())
        channel.write(ByteBuffer(string: "unflushed"), promise: nil)
        #expect(counter.writes.isEmpty)
        _ = try? channel.close().wait()
        // What the channel then does with an unflushed write is NIO's; the coalescer holds nothing back.
        #expect(counter.writes == [9], "handed on before the close")
    }
}
