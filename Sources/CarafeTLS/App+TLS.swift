import CarafeCore
import CarafeHTTP
import Foundation
import Logging

extension App {
    /// Serves TLS when `serve` is given `--certfile` and `--keyfile` (with `--ca-certs`,
    /// `--cert-reqs`, `--ciphers`): on every bind, or only on those written `https://HOST:PORT`.
    /// The files are read at start (in the master first, under `--workers`, so that a bad file
    /// stops it before any worker) and again by each new worker, so after a SIGHUP renewed
    /// files are served with no connection refused. A single process (no `--workers`) reads
    /// them again on SIGHUP and serves them to new connections; if the new files cannot be
    /// used it logs why and keeps serving the old ones. A certificate that expires within 30 days
    /// is warned of in the log.
    ///
    ///     app.useTLS()
    ///     $ hello serve --bind https://0.0.0.0:8443 --certfile cert.pem --keyfile key.pem
    public func useTLS() {
        self.configureServer { configuration, options, logger in
            guard options.certfile != nil || options.keyfile != nil || !configuration.tlsBinds.isEmpty else { return }
            guard let certfile = options.certfile, let keyfile = options.keyfile else {
                throw TLSSettingsError(
                    file: nil,
                    role: "settings",
                    reason: options.certfile == nil
                        ? "need --certfile (the certificate chain) besides --keyfile or an https:// bind"
                        : "need --keyfile (the certificate's private key) besides --certfile"
                )
            }
            guard let requests = TLSSettings.ClientCertificates(parsing: options.certReqs) else {
                throw TLSSettingsError(
                    file: nil,
                    role: "settings",
                    reason: "--cert-reqs '\(options.certReqs)' is none of none, optional, required (0, 1, 2)"
                )
            }
            let settings = TLSSettings(
                certificateFile: certfile,
                keyFile: keyfile,
                caCertificatesFile: options.caCerts,
                clientCertificates: requests,
                ciphers: options.ciphers
            )
            let security = try settings.load()
            configuration.tls = security
            security.warnOfExpiry(logger: logger)
        }
    }
}

extension TLSServerSecurity {
    /// Logs a warning if the certificate expires within `settings.expiryWarning`, an error if it has.
    public func warnOfExpiry(logger: Logger, now: Date = Date()) {
        let expiry = Date(timeIntervalSince1970: TimeInterval(self.certificate.notValidAfter))
        let left = expiry.timeIntervalSince(now)
        if left <= 0 {
            logger.error("TLS: the certificate of \(self.settings.certificateFile) expired on \(expiry); clients will refuse it")
        } else if left < Double(self.settings.expiryWarning.components.seconds) {
            logger.warning(
                "TLS: the certificate of \(self.settings.certificateFile) expires on \(expiry), in \(Int(left / 86400)) days: renew it (SIGHUP reloads it)"
            )
        }
    }
}
