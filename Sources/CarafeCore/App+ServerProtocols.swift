import CarafeHTTP
import Logging

/// What `serve`'s TLS and HTTP/2 flags said (`--certfile`, `--keyfile`, `--ca-certs`,
/// `--cert-reqs`, `--ciphers`, `--h2c`), for the optional modules that act on them: the
/// framework parses them, CarafeTLS and CarafeHTTP2 load and serve them. An app that links
/// neither builds without swift-nio-ssl and swift-nio-http2; given the flags, it says which
/// module it lacks.
public struct ServeProtocolOptions: Sendable {
    /// The certificate chain (PEM): the server's certificate first, then intermediates.
    public var certfile: String?
    /// The certificate's private key (PEM).
    public var keyfile: String?
    /// CA certificates (PEM) that client certificates must chain to.
    public var caCerts: String?
    /// Whether clients must present a certificate: `none`, `optional` or `required`
    /// (Gunicorn's 0, 1, 2 are taken too).
    public var certReqs: String
    /// OpenSSL cipher list for TLS 1.2 (TLS 1.3's suites are not configurable); nil: NIOSSL's default.
    public var ciphers: String?
    /// Serve HTTP/2 with prior knowledge (h2c) on plain listeners, besides HTTP/1.1.
    public var h2c: Bool

    public init(
        certfile: String? = nil,
        keyfile: String? = nil,
        caCerts: String? = nil,
        certReqs: String = "none",
        ciphers: String? = nil,
        h2c: Bool = false
    ) {
        self.certfile = certfile
        self.keyfile = keyfile
        self.caCerts = caCerts
        self.certReqs = certReqs
        self.ciphers = ciphers
        self.h2c = h2c
    }
}

extension App {
    /// Lets an optional module set up the server from `serve`'s flags: CarafeTLS's `useTLS()`
    /// sets `HTTPServerConfiguration.tls`, CarafeHTTP2's `useHTTP2()` sets `.http2`. `body` runs
    /// in each process that serves (each worker loads the certificate files anew, so a SIGHUP
    /// puts renewed files live) and, under `--workers`, once in the master before any worker
    /// starts, so that a bad file stops the start there. An error it throws stops the start.
    public func configureServer(_ body: @escaping @Sendable (inout HTTPServerConfiguration, ServeProtocolOptions, Logger) throws -> Void) {
        self.lifecycle.state.withLock { $0.serverSetups.append(body) }
    }

    /// Runs the `configureServer` bodies, then checks that each flag given found a module.
    package func applyServerSetups(_ configuration: inout HTTPServerConfiguration, _ options: ServeProtocolOptions) throws {
        for setup in self.lifecycle.serverSetups {
            try setup(&configuration, options, self.logger)
        }
        if options.certfile != nil || options.keyfile != nil || !configuration.tlsBinds.isEmpty, configuration.tls == nil {
            throw ServeProtocolError(
                "TLS was asked for (--certfile, --keyfile or an https:// bind) but this app does not serve it: "
                    + "link CarafeTLS and call app.useTLS()"
            )
        }
        if options.h2c, configuration.http2 == nil {
            throw ServeProtocolError("--h2c was given but this app does not serve HTTP/2: link CarafeHTTP2 and call app.useHTTP2()")
        }
    }
}

/// A TLS or HTTP/2 flag that cannot be honoured: the start stops with this message.
public struct ServeProtocolError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
