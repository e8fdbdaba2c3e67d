import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import Testing

@testable import CarafeHTTP2

/// The two handlers of a WebSocket over HTTP/2 (RFC 8441), on `EmbeddedChannel`: the stream
/// codec's translation of the extended CONNECT, and the tunnel's bytes and ends.
@Suite struct HTTP2WebSocketHandlerTests {
    static func connect(protocol target: String = "websocket", method: String = "CONNECT") -> HPACKHeaders {
        [
            ":method": method, ":protocol": target, ":scheme": "https", ":path": "/chat?room=1",
            ":authority": "example.com", "sec-websocket-version": "13", "origin": "https://example.com",
        ]
    }

    @Test func anExtendedConnectForAWebSocketReachesTheAppAsItsHTTP11OpeningGET() throws {
        let channel = EmbeddedChannel(handler: HTTP2StreamCodec(extendedConnect: true))
        try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: Self.connect())))
        guard case .head(let head) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("no request head")
            return
        }
        #expect(head.method == .GET)
        #expect(head.uri == "/chat?room=1")
        #expect(head.version == HTTPVersion(major: 2, minor: 0))
        #expect(head.headers["upgrade"] == ["websocket"])
        #expect(head.headers["host"] == ["example.com"])
        #expect(head.headers["origin"] == ["https://example.com"])
        #expect(!head.headers.contains { $0.name.hasPrefix(":") })
        // The request's bytes that follow are the codec's until the tunnel takes its place.
        var bytes = channel.allocator.buffer(capacity: 2)
        bytes.writeString("ab")
        try channel.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(bytes))))
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) == .body(bytes))
    }

    @Test func otherRequestsPassAsNIOHTTP2TakesThem() throws {
        // Another protocol (WebTransport), a plain GET, or extended CONNECT not advertised.
        let cases: [(HPACKHeaders, Bool, HTTPMethod)] = [
            (Self.connect(protocol: "webtransport"), true, .CONNECT),
            ([":method": "GET", ":scheme": "https", ":path": "/", ":authority": "example.com"], true, .GET),
            (Self.connect(), false, .CONNECT),
        ]
        for (headers, extendedConnect, method) in cases {
            let channel = EmbeddedChannel(handler: HTTP2StreamCodec(extendedConnect: extendedConnect))
            try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: headers)))
            guard case .head(let head) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
                Issue.record("no request head")
                continue
            }
            #expect(head.method == method)
            #expect(!head.headers.contains(name: "upgrade"))
        }
    }

    @Test func theTunnelCarriesBytesBothWaysAndMapsTheEndsToEndStream() throws {
        let channel = EmbeddedChannel(handler: HTTP2TunnelHandler())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var bytes = channel.allocator.buffer(capacity: 4)
        bytes.writeString("ping")
        // DATA in: the bytes; END_STREAM: the peer's side is closed, as a FIN says.
        let events = EventRecorder()
        try channel.pipeline.syncOperations.addHandler(events)
        try channel.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(bytes), endStream: true)))
        #expect(try channel.readInbound(as: ByteBuffer.self) == bytes)
        #expect(events.inputClosed == 1)
        // Bytes out: DATA frames; the close: END_STREAM, after which nothing more is written.
        try channel.writeOutbound(bytes)
        guard case .data(let data) = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) else {
            Issue.record("no DATA frame")
            return
        }
        #expect(data.data == .byteBuffer(bytes) && !data.endStream)
        channel.close(promise: nil)
        guard case .data(let end) = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) else {
            Issue.record("no END_STREAM")
            return
        }
        #expect(end.endStream && end.data == .byteBuffer(ByteBuffer()))
        let late = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(bytes, promise: late)
        #expect(throws: ChannelError.outputClosed) { try late.futureResult.wait() }
        // Both sides have ended: the stream is NIOHTTP2's to close, not reset here.
        #expect(channel.isActive)
    }

    @Test func aPeerThatDoesNotEndItsSideIsResetAfterTheLingering() throws {
        let channel = EmbeddedChannel(handler: HTTP2TunnelHandler())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.close(mode: .output).wait()
        guard case .data(let end) = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) else {
            Issue.record("no END_STREAM")
            return
        }
        #expect(end.endStream)
        // A close after the output was ended (a hang-up's deadline) resets at once.
        channel.close(promise: nil)
        #expect(!channel.isActive)

        let lingering = EmbeddedChannel(handler: HTTP2TunnelHandler())
        try lingering.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        lingering.close(promise: nil)
        #expect(lingering.isActive)
        lingering.embeddedEventLoop.advanceTime(by: HTTP2TunnelHandler.lingering - .milliseconds(1))
        #expect(lingering.isActive)
        lingering.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!lingering.isActive)
    }
}

/// Counts `ChannelEvent.inputClosed` events that reach the end of the pipeline.
final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var inputClosed = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { self.inputClosed += 1 }
        context.fireUserInboundEventTriggered(event)
    }
}
