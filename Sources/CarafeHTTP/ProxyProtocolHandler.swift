import Logging
import NIOCore
import Synchronization

/// Reads the PROXY protocol header (version 1 or 2) a TCP load balancer sends at the start of
/// each connection, tells the request handler the client's address from it, and removes itself
/// from the pipeline, passing on whatever followed the header.
///
/// It sits first in the pipeline, before the connection guard. A header may arrive in several
/// reads; it is collected until complete. A connection from a peer not in `allowFrom`, or whose
/// first bytes are not a valid header, is closed with a log line saying why (rate-limited:
/// see `LogRateLimiter`).
final class ProxyProtocolHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let allowFrom: TrustedAddresses
    private let logger: Logger
    /// Receives the client's address once the header is read.
    private let requestHandler: HTTPRequestHandler
    private var received: ByteBuffer?
    private var closing = false

    init(allowFrom: TrustedAddresses, logger: Logger, requestHandler: HTTPRequestHandler) {
        self.allowFrom = allowFrom
        self.logger = logger
        self.requestHandler = requestHandler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.closing else { return }
        var chunk = self.unwrapInboundIn(data)
        let peer = context.channel.remoteAddress
        guard self.allowFrom.contains(peer) else {
            return self.reject(
                "a PROXY protocol connection from \(peer?.description ?? "?"), which is not in --proxy-allow-from (\(self.allowFrom))",
                context: context
            )
        }
        if var received = self.received {
            received.writeBuffer(&chunk)
            chunk = received
        }
        let result: ProxyProtocolHeader.ParseResult
        do {
            result = try ProxyProtocolHeader.parse(chunk.readableBytesView)
        } catch {
            return self.reject("invalid PROXY protocol header from \(peer?.description ?? "?"): \(error)", context: context)
        }
        switch result {
        case .incomplete:
            self.received = chunk
        case .header(let header, let length):
            self.received = nil
            chunk.moveReaderIndex(forwardBy: length)
            if let source = header.source { self.requestHandler.clientAddress = source }
            self.logger.trace(
                "PROXY protocol v\(header.version) from \(peer?.description ?? "?"): client \(header.source?.description ?? "(the balancer itself)")"
            )
            if chunk.readableBytes > 0 { context.fireChannelRead(self.wrapInboundOut(chunk)) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    private func reject(_ reason: String, context: ChannelHandlerContext) {
        self.closing = true
        self.received = nil
        switch Self.rejections.withLock({ $0.decide(at: .now()) }) {
        case .write(let suppressed):
            let more =
                suppressed == 0
                ? ""
                : " (and \(suppressed) more refused in the last \(Self.rejectionLogInterval.nanoseconds / 1_000_000_000) s, not logged)"
            self.logger.warning("closing a connection: \(reason)\(more)")
        case .suppress:
            break
        }
        context.close(promise: nil)
    }

    /// At most one "closing a connection" line per 10 s for the whole process, however many
    /// connections are refused.
    static let rejectionLogInterval = TimeAmount.seconds(10)
    static let rejections = Mutex(LogRateLimiter(interval: rejectionLogInterval))
}
