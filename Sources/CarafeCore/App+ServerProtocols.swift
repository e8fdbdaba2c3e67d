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
    /// HTTP/2's limits from `serve` (`--http2-max-concurrent-streams` and the others); each
    /// one not given keeps the value the app set in code (`useHTTP2(_:)`'s settings).
    public var http2: HTTP2LimitOptions

    public init(
        certfile: String? = nil,
        keyfile: String? = nil,
        caCerts: String? = nil,
        certReqs: String = "none",
        ciphers: String? = nil,
        h2c: Bool = false,
        http2: HTTP2LimitOptions = HTTP2LimitOptions()
    ) {
        self.certfile = certfile
        self.keyfile = keyfile
        self.caCerts = caCerts
        self.certReqs = certReqs
        self.ciphers = ciphers
        self.h2c = h2c
        self.http2 = http2
    }
}

/// The HTTP/2 limits `serve` was given (nil: not given), for CarafeHTTP2 to apply over its
/// `HTTP2Settings`: flags, so that an operator tunes them per deployment (and through
/// `CARAFE_HTTP2_*` variables) without a rebuild.
public struct HTTP2LimitOptions: Sendable, Hashable {
    /// `--http2-max-concurrent-streams`: streams a client may have open at once (SETTINGS).
    public var maxConcurrentStreams: Int?
    /// `--http2-max-header-list-size`: bytes of a request's header list (SETTINGS).
    public var maxHeaderListSize: Int?
    /// `--http2-initial-window-size`: the flow-control window of each stream (SETTINGS) and
    /// of the connection, for request bodies.
    public var initialWindowSize: Int?
    /// `--http2-idle-timeout`: seconds a connection with no stream open stays; 0 never.
    public var idleTimeout: Int?
    /// `--http2-max-resets`: streams a client may reset within the reset window before the
    /// connection is cut off (the rapid-reset attack, CVE-2023-44487).
    public var maxResets: Int?

    public init(
        maxConcurrentStreams: Int? = nil,
        maxHeaderListSize: Int? = nil,
        initialWindowSize: Int? = nil,
        idleTimeout: Int? = nil,
        maxResets: Int? = nil
    ) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxHeaderListSize = maxHeaderListSize
        self.initialWindowSize = initialWindowSize
        self.idleTimeout = idleTimeout
        self.maxResets = maxResets
    }

    /// Whether any limit was given.
    public var isEmpty: Bool { self == HTTP2LimitOptions() }
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
        if !options.http2.isEmpty, configuration.http2 == nil {
            throw ServeProtocolError(
                "an --http2-* limit was given but this app does not serve HTTP/2: link CarafeHTTP2 and call app.useHTTP2()"
            )
        }
    }
}

/// A TLS or HTTP/2 flag that cannot be honoured: the start stops with this message.
public struct ServeProtocolError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
