import Crypto
import Foundation

/// Turns a session's values into a signed cookie value and back.
///
/// The value is `payload.timestamp.signature`: the values as JSON (keys sorted) in base64url,
/// the signing time in seconds since 1970, and an HMAC-SHA256 of both in base64url. The HMAC
/// key is derived from the app's secret key with HKDF, so the secret itself signs nothing else.
/// The values are readable by the client (signed, not encrypted): keep secrets out of them.
struct SessionSigner: Sendable {
    /// The HMAC keys, the current one first, then the old ones that are still accepted (bytes:
    /// `SymmetricKey` is not `Sendable` in swift-crypto 3).
    private let keys: [[UInt8]]

    /// Cookies signed later than this far in the future are refused (clocks of different
    /// machines disagree a little).
    static let allowedClockSkew = 60

    init(secretKey: String, oldSecretKeys: [String] = []) throws {
        for key in [secretKey] + oldSecretKeys where key.utf8.count < SecretKeyTooShort.minimumLength {
            throw SecretKeyTooShort(length: key.utf8.count, isOldKey: key != secretKey)
        }
        self.keys = ([secretKey] + oldSecretKeys).map { secret in
            HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: Array(secret.utf8)),
                info: Array("carafe.session.v1".utf8),
                outputByteCount: 32
            ).withUnsafeBytes { Array($0) }
        }
    }

    /// The cookie value for `values`, signed with the current key as of `time`.
    func sign(_ values: [String: String], at time: Date) -> String {
        let json = (try? Self.encoder.encode(values)) ?? Data("{}".utf8)
        let signed = Base64URL.encode(json) + "." + String(Int(time.timeIntervalSince1970))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(signed.utf8), using: SymmetricKey(data: self.keys[0]))
        return signed + "." + Base64URL.encode(mac)
    }

    /// What a cookie value `sign` made holds, if its signature is right under one of the keys and
    /// it was signed at most `maxAge` seconds before `now`; nil for anything else (tampered,
    /// signed with an unknown key, expired, malformed).
    func verify(_ cookie: String, maxAge: Int, now: Date) -> Verified? {
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let mac = Base64URL.decode(parts[2]) else { return nil }
        let signed = Array(cookie.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard
            let keyIndex = self.keys.firstIndex(where: {
                HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: signed, using: SymmetricKey(data: $0))
            })
        else { return nil }
        // Signed by us from here on: the contents can be trusted to be what we wrote.
        guard let time = Int(parts[1]) else { return nil }
        let age = Int(now.timeIntervalSince1970) - time
        guard age <= maxAge, age >= -Self.allowedClockSkew,
            let json = Base64URL.decode(parts[0]),
            let values = try? JSONDecoder().decode([String: String].self, from: Data(json))
        else { return nil }
        return Verified(values: values, signedWithOldKey: keyIndex > 0)
    }

    struct Verified {
        let values: [String: String]
        /// Signed with a key from `oldSecretKeys`: worth signing again with the current one.
        let signedWithOldKey: Bool
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()
}

/// A secret key too short to sign sessions safely: it must hold at least 32 bytes (256 bits),
/// as random as possible. Make one with `openssl rand -hex 32` and keep it out of the code.
public struct SecretKeyTooShort: Error, CustomStringConvertible {
    /// The least number of bytes (UTF-8) a secret key must have.
    public static let minimumLength = 32
    /// The length of the key given, in bytes.
    public let length: Int
    /// Whether it was one of the old keys rather than the current one.
    public let isOldKey: Bool

    public var description: String {
        "The \(self.isOldKey ? "old " : "")secret key is \(self.length) bytes long; a session secret key needs at least "
            + "\(Self.minimumLength) bytes of random data (make one with `openssl rand -hex 32`)."
    }
}
