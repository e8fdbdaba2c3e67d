import CarafeHTTP
import Logging
import NIOCore
import NIOHTTP2

/// HTTP/2 for CarafeHTTP's server (`HTTPServerConfiguration.http2`): NIOHTTP2's handler with
/// its streams multiplexed into channels of their own, each turned back into HTTP/1-style
/// request parts (`HTTP2StreamCodec`) for the server's request handler, so that every stream
/// is a request through the same routing, hooks, limits and access log. A WebSocket's
/// extended CONNECT (RFC 8441) goes the same way, and its stream then becomes a tunnel
/// (`HTTP2TunnelHandler`) for the WebSocket's frames.
/// Flow control comes from NIOHTTP2: a stream channel is not writable while its window is
/// shut (a streamed response's `write` waits), and a request body's window reopens only as its
/// consumer reads.
public struct HTTP2ServerSupport: HTTPConnectionHTTP2 {
    public var settings: HTTP2Settings
    public var logger: Logger

    public init(settings: HTTP2Settings = HTTP2Settings(), logger: Logger = Logger(label: "carafe.http2")) {
        self.settings = settings
        self.logger = logger
    }

    public var acceptsPriorKnowledge: Bool { self.settings.priorKnowledge }

    var connectionConfiguration: NIOHTTP2Handler.ConnectionConfiguration {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        configuration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: self.settings.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: self.settings.maxHeaderListSize),
            HTTP2Setting(parameter: .initialWindowSize, value: self.settings.windowSize),
        ]
        if self.settings.webSockets {
            // RFC 8441: clients may open WebSockets with an extended CONNECT.
            configuration.initialSettings.append(HTTP2Setting(parameter: .enableConnectProtocol, value: 1))
        }
        configuration.targetWindowSize = self.settings.windowSize
        return configuration
    }

    var streamConfiguration: NIOHTTP2Handler.StreamConfiguration {
        var configuration = NIOHTTP2Handler.StreamConfiguration()
        configuration.targetWindowSize = self.settings.windowSize
        configuration.streamResetFrameRateLimit.maximumCount = self.settings.maxResetStreams
        configuration.streamResetFrameRateLimit.windowLength = self.settings.resetWindow
        return configuration
    }

    public func configure(_ channel: any Channel, streams: HTTPStreamPipeline) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            // NIOHTTP2's manager: on `ChannelShouldQuiesceEvent` (the server's graceful stop) a
            // GOAWAY, a PING, a second GOAWAY with the last stream opened, then a close once the
            // streams in flight have finished (the server's graceful timeout bounds them); and a
            // graceful close after `idleTimeout` with no stream open.
            let manager = NIOHTTP2ServerConnectionManagementHandler(
                eventLoop: channel.eventLoop,
                configuration: .init(
                    maxIdleTime: self.settings.idleTimeout > .zero ? self.settings.idleTimeout : nil,
                    maxAge: nil,
                    maxGraceTime: nil,
                    keepalive: nil
                )
            )
            let sync = channel.pipeline.syncOperations
            _ = try sync.configureHTTP2Pipeline(
                mode: .server,
                connectionConfiguration: self.connectionConfiguration,
                streamConfiguration: self.streamConfiguration,
                streamDelegate: manager.http2StreamDelegate
            ) { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(HTTP2StreamCodec(extendedConnect: self.settings.webSockets))
                    try streams.configure(stream)
                }
            }
            try sync.addHandler(manager)
            // The manager starts its idle timer on channelActive, which passed long ago (before
            // the TLS handshake or the h2c preface): without this, a connection that never opens
            // a stream would never time out. (Fired before the next handlers are added, it
            // reaches only the pipeline's tail.)
            if channel.isActive {
                manager.channelActive(context: try sync.context(handler: manager))
            }
            try sync.addHandler(HTTP2ConnectionErrorHandler(logger: self.logger))
        }
    }

    public func openTunnel(on stream: any Channel) throws {
        let pipeline = stream.pipeline.syncOperations
        let codec = try pipeline.handler(type: HTTP2StreamCodec.self)
        try pipeline.addHandler(HTTP2TunnelHandler(), position: .after(codec))
        pipeline.removeHandler(codec, promise: nil)
    }
}
