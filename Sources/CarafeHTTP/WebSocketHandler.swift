import NIOCore
import NIOWebSocket

/// Speaks RFC 6455 on an upgraded connection: joins fragments into messages and hands them to
/// the handler's `WebSocket.messages` with backpressure, answers pings, pings a quiet peer,
/// and runs the close handshake.
///
/// It sits after NIO's frame decoder and writes its own frames. Failures close the connection
/// with the code the RFC names: 1002 for a protocol error (an unmasked or reserved frame, a
/// stray continuation), 1007 for text that is not UTF-8, 1009 for a message over
/// `WebSocketOptions.maxMessageSize`, 1001 when the server shuts down.
///
/// Backpressure: while `messages` has a few undelivered messages, the socket is not read; while
/// the socket's send queue is above its high-water mark, `send` suspends.
final class WebSocketHandler: ChannelDuplexHandler, RemovableChannelHandler, HeartbeatMember {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    typealias Producer = NIOAsyncSequenceProducer<
        WebSocketMessage, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, ConnectionReadDelegate
    >

    private let options: WebSocketOptions
    /// Where the messages go; set once, right after the handler is made.
    var source: Producer.Source?
    /// Where the peer's close code goes, for `WebSocket.closeCode`.
    let peerClose = CloseCodeCell()
    private var context: ChannelHandlerContext?
    /// The opcode and joined payload of a message whose fragments are still arriving.
    private var fragments: (opcode: WebSocketOpcode, data: ByteBuffer)?
    private var readGate = ReadGate()
    private var writers = WritabilityWaiters()
    /// The close handshake and the pings (`WebSocketStateMachine`).
    private var machine = WebSocketStateMachine()
    /// The loop's heartbeat wheel, which pings a quiet peer (one timer per loop, not per socket).
    private let heartbeats: LoopHeartbeats
    let heartbeatID: Int
    private var isPinging = false
    private var closeTimer: Scheduled<Void>?
    /// Once the session is handed over (`WebSocket.detach`): the stream a hub writes its
    /// ready-made frames to, and where the peer's messages go instead of `messages`.
    private var detached: DetachedStream?
    private var onMessage: (@Sendable (WebSocketMessage) -> Void)?

    init(options: WebSocketOptions, heartbeats: LoopHeartbeats) {
        self.options = options
        self.heartbeats = heartbeats
        self.heartbeatID = heartbeats.nextID()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        guard let interval = self.options.pingInterval else { return }
        self.heartbeats.add(self, every: interval)
        self.isPinging = true
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.stopPinging()
        self.closeTimer?.cancel()
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        guard self.machine.state != .closed else { return }  // nothing counts after the close
        guard frame.maskKey != nil else { return self.fail(.protocolError, "unmasked frame from the client", context: context) }
        guard !frame.rsv1, !frame.rsv2, !frame.rsv3 else { return self.fail(.protocolError, "reserved bits set", context: context) }
        switch frame.opcode {
        case .text, .binary:
            guard self.fragments == nil else {
                return self.fail(.protocolError, "a new message began before the last one ended", context: context)
            }
            if frame.fin {
                self.deliver(frame.opcode, frame.unmaskedData, context: context)
            } else {
                self.fragments = (frame.opcode, frame.unmaskedData)
            }
        case .continuation:
            guard let (opcode, partial) = self.fragments else {
                return self.fail(.protocolError, "a continuation frame with no message to continue", context: context)
            }
            self.fragments = nil  // no copy-on-write while appending
            var joined = partial
            let more = frame.unmaskedData
            guard joined.readableBytes + more.readableBytes <= self.options.maxMessageSize else {
                return self.fail(.messageTooLarge, "message over \(self.options.maxMessageSize) bytes", context: context)
            }
            joined.writeImmutableBuffer(more)
            if frame.fin {
                self.deliver(opcode, joined, context: context)
            } else {
                self.fragments = (opcode, joined)
            }
        case .ping:
            guard frame.fin else { return self.fail(.protocolError, "a fragmented ping", context: context) }
            if case .sendPong(let payload) = self.machine.receivedPing(frame.unmaskedData, writable: context.channel.isWritable) {
                self.write(.pong, payload, context: context)
                context.flush()
            }
        case .pong:
            _ = self.machine.receivedPong(frame.unmaskedData)
        case .connectionClose:
            self.receivedClose(frame.unmaskedData, context: context)
        default:
            self.fail(.protocolError, "reserved opcode \(frame.opcode)", context: context)
        }
    }

    private func deliver(_ opcode: WebSocketOpcode, _ data: ByteBuffer, context: ChannelHandlerContext) {
        let message: WebSocketMessage
        if opcode == .text {
            guard let text = String(validating: data.readableBytesView, as: UTF8.self) else {
                return self.fail(.dataInconsistentWithMessage, "text message is not valid UTF-8", context: context)
            }
            message = .text(text)
        } else {
            message = .binary(data)
        }
        if let onMessage = self.onMessage { return onMessage(message) }
        if self.source?.yield(message) == .stopProducing {
            _ = self.readGate.setConsumerPaused(true)
        }
    }

    /// The peer's close frame: checked, answered (once), the messages ended, and the socket
    /// closed, as the side that speaks last in the handshake should.
    private func receivedClose(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        let parsed = WebSocketStateMachine.parseClose(payload)
        if case .valid(let code, _) = parsed { self.peerClose.set(code ?? .unknown(1005)) }
        switch self.machine.receivedClose(parsed) {
        case .answerAndHangUp(let code):
            self.finishMessages()
            self.sendCloseAndHangUp(code, reason: "", context: context)
        case .hangUp:
            self.finishMessages()
            context.close(promise: nil)
        case .fail(let reason):
            self.fragments = nil
            self.finishMessages()
            self.sendCloseAndHangUp(.protocolError, reason: reason, context: context)
        case .none:
            break
        }
    }

    func read(context: ChannelHandlerContext) {
        if self.readGate.read() {
            context.read()
        }
    }

    /// The consumer of `messages` wants more, or has gone (then what comes is dropped).
    func resumeReading() {
        guard let context = self.context else { return }
        if self.readGate.setConsumerPaused(false) {
            context.read()
        }
    }

    // MARK: Handing the session over

    /// Hands the session to a `DetachedStream` that someone else (a hub) writes ready-made
    /// frames to (`WebSocketFrameBytes`; they pass this handler as they are), and ends
    /// `messages`: the peer's messages go to `onMessage`, on this loop. The request handler,
    /// kept until now to cancel the handler's task, leaves the pipeline with the request it
    /// held: an idle session is then its socket, these handlers and the stream. Nil once the
    /// session is closing.
    func detach(onMessage: (@Sendable (WebSocketMessage) -> Void)?) -> DetachedStream? {
        guard let context = self.context, self.detached == nil, self.machine.canSend, context.channel.isActive else { return nil }
        let pipeline = context.pipeline.syncOperations
        guard let requestHandler = try? pipeline.handler(type: HTTPRequestHandler.self) else { return nil }
        let stream = requestHandler.leaveForDetachedWebSocket(channel: context.channel)
        self.detached = stream
        self.onMessage = onMessage
        self.finishMessages()
        self.resumeReading()
        return stream
    }

    // MARK: Writing

    /// Sends `message` as one frame; `promise` succeeds once the socket can take more.
    func send(_ message: WebSocketMessage, promise: EventLoopPromise<Void>) {
        guard let context = self.context, self.machine.canSend, context.channel.isActive else { return promise.fail(WebSocketError.closed) }
        switch message {
        case .text(let text):
            context.write(self.wrapOutboundOut(WebSocketFrameBytes.text(text, allocator: context.channel.allocator)), promise: nil)
        case .binary(let data): self.write(.binary, data, context: context)
        }
        context.flush()
        self.writers.wait(promise, writable: context.channel.isWritable)
    }

    /// Starts the close handshake from this side: sends a close frame, then closes the socket
    /// when the peer answers, or after `closeTimeout`.
    func close(_ code: WebSocketErrorCode, reason: String) {
        guard let context = self.context, context.channel.isActive, self.machine.closeRequested(code) else { return }
        _ = self.sendClose(code, reason: reason, context: context)
        let channel = context.channel
        self.closeTimer = context.eventLoop.scheduleTask(in: self.options.closeTimeout) { channel.close(promise: nil) }
    }

    /// Sends a close frame and closes the socket once it is written, without waiting for an answer.
    /// Sends a close frame and ends the connection without waiting for the peer's answer (after a
    /// protocol error or a message over the limit). The peer may still be sending the rest of a
    /// large message: closing a socket with unread bytes resets it, and the peer would never read
    /// the close frame. So, as Apache's lingering close does, the rest of the input is read and
    /// dropped, the write side is shut after the frame, and the socket closes when the peer closes
    /// its side or after `lingeringClose` at most.
    private func sendCloseAndHangUp(_ code: WebSocketErrorCode, reason: String, context: ChannelHandlerContext) {
        let channel = context.channel
        // Before the frame decoder: behind TLS, or an HTTP/2 stream's tunnel, which tell it of
        // the peer's end.
        let pipeline = channel.pipeline.syncOperations
        if let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self) {
            try? pipeline.addHandler(DiscardingInboundHandler(), position: .before(decoder.handler))
        }
        self.sendClose(code, reason: reason, context: context).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: Self.lingeringClose) { channel.close(promise: nil) }
        }
    }

    /// How long a hung-up connection reads and drops what the peer still sends.
    static let lingeringClose = TimeAmount.seconds(2)

    private func sendClose(_ code: WebSocketErrorCode, reason: String, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        self.stopPinging()
        self.endDetachedStream()  // no data frame may follow the close frame
        var payload = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.write(webSocketErrorCode: code)
        // A control frame carries at most 125 bytes: cut the reason, at a character boundary.
        var cut = Substring(reason)
        while cut.utf8.count > 123 { cut.removeLast() }
        payload.writeString(String(cut))
        let written = context.eventLoop.makePromise(of: Void.self)
        self.write(.connectionClose, payload, context: context, promise: written)
        context.flush()
        return written.futureResult
    }

    /// Writes one frame: the header with a small payload in one buffer; a large payload after its
    /// header as it is, not copied.
    private func write(
        _ opcode: WebSocketOpcode,
        _ payload: ByteBuffer,
        context: ChannelHandlerContext,
        promise: EventLoopPromise<Void>? = nil
    ) {
        let length = payload.readableBytes
        let together = length <= 1024
        var header = context.channel.allocator.buffer(capacity: WebSocketFrameBytes.headerSize(length) + (together ? length : 0))
        WebSocketFrameBytes.writeHeader(opcode: opcode, length: length, into: &header)
        if together {
            header.writeImmutableBuffer(payload)
            context.write(self.wrapOutboundOut(header), promise: promise)
        } else {
            context.write(self.wrapOutboundOut(header), promise: nil)
            context.write(self.wrapOutboundOut(payload), promise: promise)
        }
    }

    /// The ping interval has passed (`LoopHeartbeats`).
    func beat(now: NIODeadline) {
        guard let context = self.context else { return }
        switch self.machine.pingTimerFired() {
        case .sendPing(let payload):
            self.write(.ping, payload, context: context)
            context.flush()
        case .peerGone:
            // No pong since the last ping: the peer or the path to it is gone.
            context.close(promise: nil)
        case .none:
            break
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        if writable {
            self.writers.resumeAll()
            if let payload = self.machine.becameWritable() {
                self.write(.pong, payload, context: context)
                context.flush()
            }
        }
        self.detached?.writabilityChanged()
        // A peer that sends (pings, messages) but does not read must not grow the send queue.
        if self.readGate.setSocketFull(!writable) { context.read() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Failing and ending

    /// Fails the connection (RFC 6455, 7.1.7): a close frame with `code`, then the socket closes.
    private func fail(_ code: WebSocketErrorCode, _ reason: String, context: ChannelHandlerContext) {
        self.fragments = nil
        self.finishMessages()
        if self.machine.fail(code), context.channel.isActive {
            self.sendCloseAndHangUp(code, reason: reason, context: context)
        } else {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case NIOWebSocketError.invalidFrameLength:
            self.fail(.messageTooLarge, "frame over \(self.options.maxMessageSize) bytes", context: context)
        case let error as NIOWebSocketError:
            self.fail(.protocolError, "\(error)", context: context)
        default:
            // A socket error: nothing more can be said to the peer.
            self.finishMessages()
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:
            // The server is shutting down: say so, and let the handshake end the connection.
            self.close(.goingAway, reason: "server shutting down")
        case ChannelEvent.inputClosed:
            // The peer sent FIN without a close frame: it will not hear a handshake.
            self.finishMessages()
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.stopPinging()
        self.closeTimer?.cancel()
        self.finishMessages()
        self.endDetachedStream()
        self.machine.channelClosed()
        self.writers.failAll(WebSocketError.closed)
        context.fireChannelInactive()
    }

    private func finishMessages() {
        self.source?.finish()
        self.source = nil
    }

    /// A WebSocket session ends with its connection, or at its close frame: complete.
    private func endDetachedStream() {
        self.detached?.end(closing: false, complete: true)
    }

    private func stopPinging() {
        guard self.isPinging else { return }
        self.isPinging = false
        self.heartbeats.remove(self)
    }
}

/// Why a WebSocket send failed.
public enum WebSocketError: Error, Equatable, CustomStringConvertible {
    /// The connection is closing or closed: no more messages go out.
    case closed

    public var description: String {
        switch self {
        case .closed: "The WebSocket connection is closed."
        }
    }
}

/// Drops every byte read and closes the channel once the peer closes its side: what a connection
/// becomes once it has said its last word (see `WebSocketHandler.sendCloseAndHangUp`).
final class DiscardingInboundHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
        }
    }
}
