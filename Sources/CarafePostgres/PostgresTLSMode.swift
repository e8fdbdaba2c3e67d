import CarafeSQL
import Foundation
import NIOSSL
import PostgresNIO

/// TLS to PostgreSQL as libpq's `sslmode` and `sslrootcert` URL parameters say it:
///
/// - no `sslmode`, or `disable`: no TLS (Carafe's behaviour before TLS support, kept; libpq's own
///   default is `prefer`);
/// - `allow`, `prefer`: TLS if the server offers it, the certificate not checked;
/// - `require`: TLS or no connection, the certificate not checked, unless `sslrootcert` is given,
///   when it is checked as with `verify-ca` (as libpq does);
/// - `verify-ca`: TLS, the certificate must chain to `sslrootcert` (default: the system's roots);
/// - `verify-full`: as `verify-ca`, and the certificate must name the host of the URL.
///
/// `sslrootcert=system` names the system's roots. A root file that is missing or not PEM is an
/// error naming it, before any connection is tried.
struct PostgresTLSMode {
    enum Mode: String, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    let mode: Mode
    let rootCertificate: String?

    init(query: [String: String]) throws {
        let text = query["sslmode"] ?? "disable"
        guard let mode = Mode(rawValue: text) else {
            throw DatabaseURLError("sslmode=\(text) is none of \(Mode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.mode = mode
        self.rootCertificate = query["sslrootcert"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// What postgres-nio is given.
    func tls() throws -> PostgresConnection.Configuration.TLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        var verify = self.mode == .verifyCA || self.mode == .verifyFull
        if self.mode == .require, self.rootCertificate != nil { verify = true }
        if verify {
            configuration.certificateVerification = self.mode == .verifyFull ? .fullVerification : .noHostnameVerification
            if let path = self.rootCertificate, path != "system" {
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw DatabaseURLError("sslrootcert=\(path): the file does not exist or cannot be read")
                }
                do {
                    let roots = try NIOSSLCertificate.fromPEMFile(path)
                    guard !roots.isEmpty else { throw DatabaseURLError("sslrootcert=\(path): the file holds no PEM certificate") }
                    configuration.trustRoots = .certificates(roots)
                } catch let error as DatabaseURLError {
                    throw error
                } catch {
                    throw DatabaseURLError("sslrootcert=\(path): not a PEM certificate file (\(error))")
                }
            }
        } else {
            configuration.certificateVerification = .none
        }
        switch self.mode {
        case .disable: return .disable
        case .allow, .prefer: return .prefer(try NIOSSLContext(configuration: configuration))
        case .require, .verifyCA, .verifyFull: return .require(try NIOSSLContext(configuration: configuration))
        }
    }
}
