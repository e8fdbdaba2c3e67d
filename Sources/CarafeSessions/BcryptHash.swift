import HummingbirdBcrypt

/// bcrypt hashes, `$2b$12$` + 22 characters of salt + 31 of hash, as Vapor, Hummingbird,
/// Django's BCryptPasswordHasher, PHP's `password_hash` and Python's `bcrypt` store them:
/// verified (never made: new hashes are scrypt or PBKDF2), so that a users table from such an
/// app keeps working; `needsRehash` is true for them, to move each user to the app's method
/// at their next log-in.
///
/// `$2a$`, `$2b$` and `$2y$` are one algorithm (they differ only in a bug of some old
/// implementations with passwords of 255 bytes or more); all are checked as `$2b$`, which,
/// like every bcrypt, reads only the first 72 bytes of a password.
enum BcryptHash {
    /// The costs accepted: below 4 is no bcrypt, above 18 a damaged record (each step doubles
    /// the time: 2^31 rounds would hold a thread for days).
    static let costs = 4...18

    static func isBcrypt(_ hash: String) -> Bool {
        hash.hasPrefix("$2a$") || hash.hasPrefix("$2b$") || hash.hasPrefix("$2y$")
    }

    /// Whether `password` is the one `hash` was made from; throws `PasswordHashError` for a hash
    /// that is not well-formed bcrypt.
    static func verify(_ password: String, against hash: String) throws -> Bool {
        let normalized = try Self.normalized(hash)
        // A C string ends at NUL: "a\0b" would check as "a".
        guard !password.utf8.contains(0) else { return false }
        return Bcrypt.verify(password, hash: normalized)
    }

    /// The hash as `$2b$`, after checking its shape.
    static func normalized(_ hash: String) throws -> String {
        let bytes = Array(hash.utf8)
        let alphabet = Set("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        guard bytes.count == 60, bytes[6] == UInt8(ascii: "$"),
            let cost = Int(String(decoding: bytes[4..<6], as: UTF8.self)),
            bytes[7...].allSatisfy(alphabet.contains)
        else {
            throw PasswordHashError(
                description:
                    "Malformed password hash: a bcrypt hash is '$2b$', a two-digit cost, '$' and 53 characters of ./A-Za-z0-9 (60 in all)."
            )
        }
        guard Self.costs.contains(cost) else {
            throw PasswordHashError(
                description:
                    "Malformed password hash: bcrypt's cost must be \(Self.costs.lowerBound) to \(Self.costs.upperBound), got \(cost)."
            )
        }
        return "$2b$" + String(decoding: bytes[4...], as: UTF8.self)
    }
}
