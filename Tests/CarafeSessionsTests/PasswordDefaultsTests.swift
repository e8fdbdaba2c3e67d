import CarafeSessions
import Foundation
import Testing

/// The default cost of new password hashes (OWASP's scrypt parameters), and old hashes: they
/// verify, and `needsRehash` says so.
@Suite struct PasswordDefaultsTests {
    @Test func newHashesUseOWASPsScryptParameters() {
        #expect(PasswordHasher.Method.recommended == .scrypt(n: 131_072, r: 8, p: 1))
        #expect(PasswordHasher.Method.recommended.description == "scrypt:131072:8:1")
        #expect(PasswordHasher.Method.scrypt() == .recommended)
        if ProcessInfo.processInfo.environment["PASSWORD_HASH_METHOD"] == nil {
            #expect(PasswordHasher().method == .recommended)
        }
    }

    @Test func anOldHashStillVerifiesAndNeedsARehash() throws {
        let old = try PasswordHasher(.scrypt(n: 32768)).hashBlocking("s3crét")
        let current = PasswordHasher(.recommended)
        #expect(try current.verifyBlocking("s3crét", against: old))
        #expect(try !current.verifyBlocking("s3cret", against: old))
        #expect(current.needsRehash(old))
        #expect(!PasswordHasher(.scrypt(n: 32768)).needsRehash(old))
        #expect(current.needsRehash("not a hash"))
    }
}
