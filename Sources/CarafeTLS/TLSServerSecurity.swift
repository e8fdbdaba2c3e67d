import CarafeHTTP
import Logging
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// Server TLS on NIOSSL for CarafeHTTP's listeners (`HTTPServerConfiguration.tls`): adds the TLS
/// handler and, once the handshake is done, hands the protocol the client chose by ALPN (`h2` or
/// `http/1.1`) to the server. A handshake that takes longer than `handshakeTimeout` is closed,
/// so that a client cannot hold a connection without ever starting TLS.
///
/// `reload(logger:)` (a single process's SIGHUP) swaps in contexts built from the files as they
/// are now; each connection keeps the context it was accepted with.
public struct TLSServerSecurity: HTTPConnectionSecurity {
    /// What one reading of the files made: swapped whole, so a connection never sees half.
    struct Loaded: Sendable {
        /// Offers h2 and http/1.1.
        let http2: NIOSSLContext
        /// Offers http/1.1 only.
        let http1: NIOSSLContext
        /// The chain's first certificate: the server's own.
        let certificate: NIOSSLCertificate
    }

    /// Shared by every copy of the value, so a reload reaches the server's copy.
    final class Current: Sendable {
        let loaded: Mutex<Loaded>
        init(_ loaded: Loaded) { self.loaded = Mutex(loaded) }
    }

    private let current: Current
    public let settings: TLSSettings
    public var handshakeTimeout: TimeAmount = .seconds(10)

    init(_ loaded: Loaded, settings: TLSSettings) {
        self.current = Current(loaded)
        self.settings = settings
    }

    /// The certificate new connections are served: the chain's first.
    public var certificate: NIOSSLCertificate { self.current.loaded.withLock { $0.certificate } }

    public func secure(
        _ channel: any Channel,
        applicationProtocols: [String],
        negotiated: @escaping (String?) -> EventLoopFuture<Void>
    ) throws {
        let loaded = self.current.loaded.withLock { $0 }
        let context = applicationProtocols.contains("h2") ? loaded.http2 : loaded.http1
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
            }
        )
        channel.closeFuture.whenComplete { _ in timeout.cancel() }
    }

    /// Reads the files of `settings` again and serves them to new connections; if they cannot
    /// be used (missing, half-written, a key of another certificate) throws the
    /// `TLSSettingsError` naming the file, and the certificate in use stays.
    public func reload(logger: Logger) throws {
        let fresh = try self.settings.loadContexts()
        let old = self.current.loaded.withLock { loaded in
            defer { loaded = fresh }
            return loaded.certificate
        }
        logger.notice(
            "TLS: reloaded \(self.settings.certificateFile): serving serial \(Self.serial(fresh.certificate)) to new connections (was \(Self.serial(old)))"
        )
        self.warnOfExpiry(logger: logger)
    }

    /// A certificate's serial number in hex, as `openssl x509 -serial` prints it.
    static func serial(_ certificate: NIOSSLCertificate) -> String {
        certificate.serialNumber.map { ($0 < 16 ? "0" : "") + String($0, radix: 16, uppercase: true) }.joined()
    }
}
