import CarafeCore
import CarafeHTTP

extension App {
    /// Serves HTTP/2 with the same routes, hooks and limits: over TLS (`useTLS()`) to clients
    /// that choose `h2` by ALPN, and with `--h2c` (or `settings.priorKnowledge`) on plain binds
    /// to clients that start with HTTP/2's preface (h2c with prior knowledge); HTTP/1.1 stays
    /// served on both. See `HTTP2Settings` for the limits and their defaults; `serve`'s
    /// `--http2-*` flags (and `CARAFE_HTTP2_*`) override those set here.
    ///
    ///     app.useHTTP2()
    ///     $ hello serve --h2c --bind 0.0.0.0:8080
    public func useHTTP2(_ settings: HTTP2Settings = HTTP2Settings()) {
        self.configureServer { configuration, options, logger in
            var settings = try settings.applying(options.http2)
            if options.h2c { settings.priorKnowledge = true }
            configuration.http2 = HTTP2ServerSupport(settings: settings, logger: logger)
        }
    }
}
