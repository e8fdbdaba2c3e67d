import CarafeCore
import Crypto
import NIOPosix
import _CryptoExtras

/// Hashes passwords with a slow, salted key-derivation function, and checks them (Werkzeug's
/// `generate_password_hash` and `check_password_hash`, in the same format).
///
///     let passwords = PasswordHasher()                          // scrypt, N=32768, r=8, p=1
///     let stored = try await passwords.hash("correct horse")    // "scrypt:32768:8:1$fK2…$9c4e…"
///     try await passwords.verify("correct horse", against: stored)   // true
///
/// A hash is `method$salt$hash`: `scrypt:N:r:p` or `pbkdf2:sha256:iterations`, a salt of 16
/// random letters and digits, and the derived key in hex. Hashes made by Werkzeug (Flask)
/// verify here, and the other way round, so a Flask app's users table can be kept as it is.
///
/// Hashing is slow on purpose (see docs/web-apps.md for what it costs): `hash` and `verify` run
/// on a thread pool, never on the event loop, so that other requests go on while one logs in;
/// the pool's size also bounds how many run at once, and so the memory scrypt takes (32 MiB
/// each with the default parameters).
///
/// Its queue is bounded too (`queueLimit`, default 16): past it, `hash` and `verify` throw
/// `BlockingPoolFull` at once, which a handler lets through as a 503 with `Retry-After`.
/// Without a bound, log-ins that arrive faster than the cores hash them (about 24 a second on
/// two cores) wait longer and longer, and so does everyone behind them; rate-limit log-in too
/// (docs/concurrency.md).
public struct PasswordHasher: Sendable {
    /// A key-derivation function and its cost parameters.
    public enum Method: Sendable, Hashable, CustomStringConvertible {
        /// scrypt (RFC 7914): memory-hard; `n` (a power of 2) costs 128·n·r bytes of memory and as
        /// much work, `p` runs it that many times. Werkzeug's default: `n: 32768, r: 8, p: 1`.
        case scrypt(n: Int = 32768, r: Int = 8, p: Int = 1)
        /// PBKDF2 with HMAC-SHA-256 or -512: `iterations` rounds of the hash.
        case pbkdf2(PBKDF2Hash = .sha256, iterations: Int = 600_000)

        /// How it is written at the start of a hash: `scrypt:32768:8:1`, `pbkdf2:sha256:600000`.
        public var description: String {
            switch self {
            case .scrypt(let n, let r, let p): "scrypt:\(n):\(r):\(p)"
            case .pbkdf2(let hash, let iterations): "pbkdf2:\(hash.rawValue):\(iterations)"
            }
        }
    }

    /// The hash functions PBKDF2 may use.
    public enum PBKDF2Hash: String, Sendable, Hashable {
        case sha256, sha512
    }

    /// How new hashes are made. Verifying takes a hash's method from the hash itself.
    public let method: Method
    /// Where hashing runs, with its queue's bound.
    private let threadPool: BlockingPool

    /// - Parameters:
    ///   - method: how to hash: scrypt with Werkzeug's parameters unless told otherwise.
    ///   - threadPool: where to run; by default NIO's shared pool, one thread per core.
    ///   - queueLimit: hashes that may wait for a thread; past it, `hash` and `verify` throw
    ///     `BlockingPoolFull` (a 503) at once. 16 by default: with scrypt's cost and two cores,
    ///     about a second of waiting.
    public init(_ method: Method = .scrypt(), threadPool: NIOThreadPool = .singleton, queueLimit: Int = 16) {
        self.method = method
        self.threadPool = BlockingPool(sharing: threadPool, queueLimit: queueLimit, limitName: "PasswordHasher's queueLimit")
    }

    /// Hashes and checks waiting for a thread now (a metric; past `queueLimit`, new ones are refused).
    public var waiting: Int { self.threadPool.waiting }

    /// A new salted hash of `password`, to store. Runs on the thread pool.
    public func hash(_ password: String) async throws -> String {
        try await self.threadPool.run { try self.hashBlocking(password) }
    }

    /// Whether `password` is the one `storedHash` was made from. Runs on the thread pool.
    /// Throws `PasswordHashError` if `storedHash` is not a hash this type (or Werkzeug) makes:
    /// that is a bug or a damaged record, not a wrong password.
    public func verify(_ password: String, against storedHash: String) async throws -> Bool {
        let stored = try StoredPasswordHash(storedHash)
        return try await self.threadPool.run { try stored.matches(password) }
    }

    /// `hash`, on the calling thread: for command-line tools and scripts, not for handlers.
    public func hashBlocking(_ password: String) throws -> String {
        try StoredPasswordHash.make(password, method: self.method).encoded
    }

    /// `verify`, on the calling thread: for command-line tools and scripts, not for handlers.
    public func verifyBlocking(_ password: String, against storedHash: String) throws -> Bool {
        try StoredPasswordHash(storedHash).matches(password)
    }

    /// Whether `storedHash` was made with another method or other parameters than this hasher's:
    /// after a successful login, hash the password again and store the new hash.
    public func needsRehash(_ storedHash: String) -> Bool {
        (try? StoredPasswordHash(storedHash).method) != self.method
    }
}

/// A stored password hash that is not one: its format, method or parameters are wrong.
public struct PasswordHashError: Error, CustomStringConvertible {
    /// What is wrong: `Malformed password hash: unknown method 'md5'; known: scrypt, pbkdf2.`
    public let description: String
}
