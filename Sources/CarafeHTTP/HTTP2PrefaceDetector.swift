import NIOCore

/// Tells HTTP/2 with prior knowledge (h2c) from HTTP/1.1 on a plain connection by its first
/// bytes: HTTP/2's connection preface, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, is no HTTP/1.1
/// request. Once the bytes decide, it sets up the pipeline for the one or the other, passes on
/// what it held back and removes itself.
final class HTTP2PrefaceDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let http2: (any Channel) -> EventLoopFuture<Void>
    private let http1: (any Channel) throws -> Void
    private var received: ByteBuffer?
    private var decided = false

    init(http2: @escaping (any Channel) -> EventLoopFuture<Void>, http1: @escaping (any Channel) throws -> Void) {
        self.http2 = http2
        self.http1 = http1
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = self.unwrapInboundIn(data)
        guard !self.decided else { return context.fireChannelRead(data) }
        if var received = self.received {
            received.writeBuffer(&chunk)
            chunk = received
        }
        let prefix = chunk.readableBytesView.prefix(Self.preface.count)
        guard prefix.elementsEqual(Self.preface.prefix(prefix.count)) else {
            return self.decide(http2: false, buffered: chunk, context: context)
        }
        if prefix.count < Self.preface.count {
            self.received = chunk
            return
        }
        self.decide(http2: true, buffered: chunk, context: context)
    }

    private func decide(http2: Bool, buffered: ByteBuffer, context: ChannelHandlerContext) {
        self.decided = true
        self.received = nil
        let channel = context.channel
        let configured: EventLoopFuture<Void>
        if http2 {
            configured = self.http2(channel)
        } else {
            configured = context.eventLoop.makeCompletedFuture { try self.http1(channel) }
        }
        configured.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                context.fireChannelRead(self.wrapInboundOut(buffered))
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            case .failure:
                context.close(promise: nil)
            }
        }
    }
}
