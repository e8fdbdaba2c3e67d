import Crypto
import _CryptoExtras

/// A password hash as stored, `method$salt$hash`, taken apart and checked.
struct StoredPasswordHash {
    let method: PasswordHasher.Method
    let salt: String
    let derivedKey: [UInt8]

    var encoded: String {
        "\(self.method)$\(self.salt)$\(Self.hex(self.derivedKey))"
    }

    /// Parses and checks a stored hash; throws `PasswordHashError` saying what is wrong.
    init(_ text: String) throws {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw Self.malformed(
                "expected 'method$salt$hash' (3 parts separated by '$'), got \(parts.count) part\(parts.count == 1 ? "" : "s")"
            )
        }
        self.method = try Self.parseMethod(parts[0])
        self.salt = String(parts[1])
        guard !self.salt.isEmpty else { throw Self.malformed("the salt is empty") }
        guard let key = Self.unhex(parts[2]), (16...256).contains(key.count) else {
            throw Self.malformed("the hash is not 32 to 512 hexadecimal digits")
        }
        self.derivedKey = key
    }

    private init(method: PasswordHasher.Method, salt: String, derivedKey: [UInt8]) {
        self.method = method
        self.salt = salt
        self.derivedKey = derivedKey
    }

    /// A new hash of `password` with a new random salt.
    static func make(_ password: String, method: PasswordHasher.Method) throws -> StoredPasswordHash {
        if let problem = Self.problem(with: method) { throw PasswordHashError(description: "Invalid password hashing method: \(problem).") }
        let salt = Self.randomSalt()
        let length: Int
        switch method {
        case .scrypt: length = 64  // Werkzeug's (hashlib.scrypt's default dklen)
        case .pbkdf2(.sha256, _): length = 32  // the digest's size, as hashlib.pbkdf2_hmac
        case .pbkdf2(.sha512, _): length = 64
        }
        return StoredPasswordHash(
            method: method,
            salt: salt,
            derivedKey: try Self.derive(password, salt: salt, method: method, length: length)
        )
    }

    /// Whether `password` derives the same key, compared in constant time.
    func matches(_ password: String) throws -> Bool {
        let derived = try Self.derive(password, salt: self.salt, method: self.method, length: self.derivedKey.count)
        return ConstantTime.equals(derived, self.derivedKey)
    }

    private static func derive(_ password: String, salt: String, method: PasswordHasher.Method, length: Int) throws -> [UInt8] {
        let key: SymmetricKey
        switch method {
        case .scrypt(let n, let r, let p):
            key = try KDF.Scrypt.deriveKey(
                from: Array(password.utf8),
                salt: Array(salt.utf8),
                outputByteCount: length,
                rounds: n,
                blockSize: r,
                parallelism: p
            )
        case .pbkdf2(let hash, let iterations):
            key = try KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8),
                salt: Array(salt.utf8),
                using: hash == .sha256 ? .sha256 : .sha512,
                outputByteCount: length,
                unsafeUncheckedRounds: iterations
            )
        }
        return key.withUnsafeBytes { Array($0) }
    }

    /// `scrypt:32768:8:1` or `pbkdf2:sha256:600000`.
    static func parseMethod(_ text: Substring) throws -> PasswordHasher.Method {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        let method: PasswordHasher.Method
        switch fields.first {
        case "scrypt":
            guard fields.count == 4, let n = Int(fields[1]), let r = Int(fields[2]), let p = Int(fields[3]) else {
                throw Self.malformed("expected 'scrypt:N:r:p', got '\(text)'")
            }
            method = .scrypt(n: n, r: r, p: p)
        case "pbkdf2":
            guard fields.count == 3, let hash = PasswordHasher.PBKDF2Hash(rawValue: String(fields[1])), let iterations = Int(fields[2])
            else {
                throw Self.malformed("expected 'pbkdf2:sha256:ITERATIONS' or 'pbkdf2:sha512:ITERATIONS', got '\(text)'")
            }
            method = .pbkdf2(hash, iterations: iterations)
        default:
            throw Self.malformed("unknown method '\(text)'; known: scrypt, pbkdf2")
        }
        if let problem = Self.problem(with: method) { throw Self.malformed(problem) }
        return method
    }

    /// What is wrong with `method`'s parameters: invalid, or so large that one hash would take
    /// the machine's memory or minutes of CPU; nil if nothing.
    static func problem(with method: PasswordHasher.Method) -> String? {
        switch method {
        case .scrypt(let n, let r, let p):
            if n < 2 || n > 1 << 20 || n & (n - 1) != 0 { return "scrypt's N must be a power of 2 from 2 to 1048576, got \(n)" }
            if !(1...16).contains(r) { return "scrypt's r must be 1 to 16, got \(r)" }
            if !(1...16).contains(p) { return "scrypt's p must be 1 to 16, got \(p)" }
            if 128 * n * r * p > 1 << 30 { return "scrypt:\(n):\(r):\(p) needs more than 1 GiB of memory" }
        case .pbkdf2(_, let iterations):
            if !(1...10_000_000).contains(iterations) { return "PBKDF2's iterations must be 1 to 10000000, got \(iterations)" }
        }
        return nil
    }

    private static func malformed(_ detail: String) -> PasswordHashError {
        PasswordHashError(description: "Malformed password hash: \(detail).")
    }

    /// 16 letters and digits, as Werkzeug's `gen_salt(16)`: about 95 bits.
    private static func randomSalt() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet.randomElement(using: &generator)! })
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func unhex(_ text: Substring) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
