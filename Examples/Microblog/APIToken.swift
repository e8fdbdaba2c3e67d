import Crypto
import Foundation

/// A token for `Authorization: Bearer` (RFC 6750): 32 random bytes in base64url, shown once;
/// the database keeps only its SHA-256 in hex, which `Queries.viewer(_:tokenHash:)` looks up.
enum APIToken {
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
