import Foundation
import NIOCore
import NIOSSL

/// What a TLS listener serves: the certificate chain and key files, client certificates, ciphers.
///
/// TLS 1.2 is the oldest version accepted. `load()` reads the files and builds the contexts; it
/// throws a `TLSSettingsError` naming the file and what is wrong with it (missing, unreadable,
/// not PEM, a key that does not match the certificate), so that a bad file stops the start.
public struct TLSSettings: Sendable, Hashable {
    /// When a client certificate is asked for (Gunicorn's `cert_reqs`).
    public enum ClientCertificates: String, Sendable, Hashable {
        /// Not asked for.
        case none
        /// Asked for; checked against `caCerts` if presented, but not required.
        case optional
        /// Required, and checked against `caCerts`.
        case required

        /// `none`, `optional`, `required`, or Gunicorn's 0, 1, 2.
        public init?(parsing text: String) {
            switch text.lowercased() {
            case "none", "0", "cert_none": self = .none
            case "optional", "1", "cert_optional": self = .optional
            case "required", "2", "cert_required": self = .required
            default: return nil
            }
        }
    }

    /// The certificate chain (PEM): the server's certificate first, then intermediates.
    public var certificateFile: String
    /// The private key (PEM) of the chain's first certificate.
    public var keyFile: String
    /// CA certificates (PEM) that client certificates must chain to; nil: the system's.
    public var caCertificatesFile: String?
    public var clientCertificates: ClientCertificates
    /// OpenSSL cipher list for TLS 1.2; nil: NIOSSL's default (forward-secret AEAD suites).
    public var ciphers: String?
    /// A warning is logged at start when the certificate expires within this long.
    public var expiryWarning: Duration

    public init(
        certificateFile: String,
        keyFile: String,
        caCertificatesFile: String? = nil,
        clientCertificates: ClientCertificates = .none,
        ciphers: String? = nil,
        expiryWarning: Duration = .seconds(30 * 24 * 3600)
    ) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.caCertificatesFile = caCertificatesFile
        self.clientCertificates = clientCertificates
        self.ciphers = ciphers
        self.expiryWarning = expiryWarning
    }

    /// Reads the files and builds the server's TLS: see the type's description.
    public func load() throws -> TLSServerSecurity {
        TLSServerSecurity(try self.loadContexts(), settings: self)
    }

    /// Reads the files and builds the contexts (at start, and again on a reload).
    func loadContexts() throws -> TLSServerSecurity.Loaded {
        let chain = try Self.certificates(in: self.certificateFile, role: "certificate file (--certfile)")
        let keyBytes = try Self.read(self.keyFile, role: "key file (--keyfile)")
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
        } catch {
            throw TLSSettingsError(file: self.keyFile, role: "key file (--keyfile)", reason: "is not a PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        if let ciphers = self.ciphers { configuration.cipherSuites = ciphers }
        switch self.clientCertificates {
        case .none: configuration.certificateVerification = .none
        case .optional: configuration.certificateVerification = .optionalVerification
        case .required: configuration.certificateVerification = .noHostnameVerification
        }
        if let caFile = self.caCertificatesFile {
            let roots = try Self.certificates(in: caFile, role: "CA certificates file (--ca-certs)")
            configuration.trustRoots = .certificates(roots)
            configuration.sendCANameList = true
        }
        func context(_ protocols: [String]) throws -> NIOSSLContext {
            var configuration = configuration
            configuration.applicationProtocols = protocols
            do {
                return try NIOSSLContext(configuration: configuration)
            } catch {
                if case .failedToLoadPrivateKey = error as? NIOSSLError {
                    throw TLSSettingsError(
                        file: self.keyFile,
                        role: "key file (--keyfile)",
                        reason: "does not match the certificate in \(self.certificateFile)"
                    )
                }
                if let ciphers = self.ciphers {
                    throw TLSSettingsError(file: nil, role: "TLS settings", reason: "cannot be used (--ciphers '\(ciphers)'?): \(error)")
                }
                throw TLSSettingsError(
                    file: self.certificateFile,
                    role: "certificate file (--certfile)",
                    reason: "cannot be used: \(error)"
                )
            }
        }
        return TLSServerSecurity.Loaded(
            http2: try context(["h2", "http/1.1"]),
            http1: try context(["http/1.1"]),
            certificate: chain[0]
        )
    }

    static func certificates(in path: String, role: String) throws -> [NIOSSLCertificate] {
        let bytes = try Self.read(path, role: role)
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw TLSSettingsError(file: path, role: role, reason: "is not a PEM certificate (\(error))")
        }
        guard !certificates.isEmpty else { throw TLSSettingsError(file: path, role: role, reason: "holds no PEM certificate") }
        return certificates
    }

    static func read(_ path: String, role: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TLSSettingsError(file: path, role: role, reason: "does not exist")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TLSSettingsError(file: path, role: role, reason: "cannot be read (permissions?)")
        }
        return Array(data)
    }
}

/// A certificate, key or setting that TLS cannot start with.
public struct TLSSettingsError: Error, CustomStringConvertible {
    /// The file at fault, if a file is.
    public var file: String?
    /// Which file it is: "certificate file (--certfile)", …
    public var role: String
    public var reason: String
    public var description: String { "TLS: \(self.role) \(self.file.map { "'\($0)' " } ?? "")\(self.reason)" }
}
