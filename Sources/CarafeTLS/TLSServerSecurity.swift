import CarafeHTTP
import NIOCore
import NIOSSL
import NIOTLS

/// Server TLS on NIOSSL for CarafeHTTP's listeners (`HTTPServerConfiguration.tls`): adds the TLS
/// handler and, once the handshake is done, hands the protocol the client chose by ALPN (`h2` or
/// `http/1.1`) to the server. A handshake that takes longer than `handshakeTimeout` is closed,
/// so that a client cannot hold a connection without ever starting TLS.
public struct TLSServerSecurity: HTTPConnectionSecurity {
    /// Offers h2 and http/1.1.
    let http2: NIOSSLContext
    /// Offers http/1.1 only.
    let http1: NIOSSLContext
    /// The chain's first certificate: the server's own.
    public let certificate: NIOSSLCertificate
    public let settings: TLSSettings
    public var handshakeTimeout: TimeAmount = .seconds(10)

    public func secure(
        _ channel: any Channel,
        applicationProtocols: [String],
        negotiated: @escaping (String?) -> EventLoopFuture<Void>
    ) throws {
        let context = applicationProtocols.contains("h2") ? self.http2 : self.http1
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOSSLServerHandler(context: context))
        let timeout = channel.eventLoop.assumeIsolated().scheduleTask(in: self.handshakeTimeout) {
            channel.close(promise: nil)
        }
        try sync.addHandler(
            ApplicationProtocolNegotiationHandler { result, channel in
                timeout.cancel()
                switch result {
                case .negotiated(let name): return negotiated(name)
                case .fallback: return negotiated(nil)
                }
            })
        channel.closeFuture.whenComplete { _ in timeout.cancel() }
    }

}
