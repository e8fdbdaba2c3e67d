import NIOCore

/// Joins the small writes made between two flushes into one buffer, so that the handler before
/// it sees one write per flush: over TLS, one record (one `SSL_write`, one seal) per response
/// instead of one for its head and one for its body.
///
/// NIO's HTTP encoder writes a response as separate buffers (the head, each body part, the
/// chunk framing), and NIOSSL encrypts every buffer it is given as a record of its own. Plain
/// sockets do not need this (NIO gathers the buffers into one `writev`); TLS listeners add it
/// right after the TLS handler.
///
/// Only small writes are joined: once the joined bytes would pass `limit` (a TLS record's
/// payload, 16 KiB), what is held goes on first and the large buffer follows unchanged, so a
/// streamed download is never copied. File regions pass through in order. The promises of
/// joined writes complete with the joined write. Nothing is held across a flush or a close.
final class WriteCoalescingHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// The most bytes joined into one write.
    let limit: Int
    private var held: ByteBuffer?
    private var promises: [EventLoopPromise<Void>] = []

    init(limit: Int = 16 * 1024) {
        self.limit = limit
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(var buffer) = self.unwrapOutboundIn(data) else {
            self.release(context: context)
            return context.write(data, promise: promise)
        }
        if buffer.readableBytes >= self.limit {
            self.release(context: context)
            return context.write(data, promise: promise)
        }
        if var held = self.held {
            if held.readableBytes + buffer.readableBytes > self.limit {
                self.release(context: context)
                self.held = buffer
            } else {
                // Drop our reference first, so that the append happens in place.
                self.held = nil
                held.writeBuffer(&buffer)
                self.held = held
            }
        } else {
            self.held = buffer
        }
        if let promise { self.promises.append(promise) }
    }

    func flush(context: ChannelHandlerContext) {
        self.release(context: context)
        context.flush()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        self.release(context: context)
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.release(context: context)
    }

    /// Writes what is held (not flushed), with one promise for all the writes it joins.
    private func release(context: ChannelHandlerContext) {
        guard let held = self.held else { return }
        self.held = nil
        let promise: EventLoopPromise<Void>?
        switch self.promises.count {
        case 0:
            promise = nil
        case 1:
            promise = self.promises[0]
        default:
            let joined = context.eventLoop.makePromise(of: Void.self)
            for waiting in self.promises { joined.futureResult.cascade(to: waiting) }
            promise = joined
        }
        self.promises.removeAll(keepingCapacity: true)
        context.write(self.wrapOutboundOut(.byteBuffer(held)), promise: promise)
    }
}
