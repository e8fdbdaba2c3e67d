import Testing

@testable import CarafeSessions

/// bcrypt hashes made by another library (Python's `bcrypt`, which `.ci/run` installs) verify,
/// in each of their spellings, and malformed ones are refused with a reason.
@Suite struct BcryptTests {
    @Test func hashesMadeByPythonsBcryptVerify() async throws {
        let script = """
            import bcrypt
            h = bcrypt.hashpw("s3cr\\u00e9t".encode(), bcrypt.gensalt(rounds=4)).decode()
            print(h)
            print("$2a$" + h[4:])
            print("$2y$" + h[4:])
            print(bcrypt.hashpw(b"x" * 72, bcrypt.gensalt(rounds=5)).decode())
            """
        let lines = try PasswordHasherTests.python(script, []).split(separator: "\n").map(String.init)
        try #require(lines.count == 4)
        let hasher = PasswordHasher()
        for stored in lines.prefix(3) {
            #expect(try await hasher.verify("s3crét", against: stored), "\(stored)")
            #expect(try await hasher.verify("s3cret", against: stored) == false, "\(stored)")
            #expect(try hasher.verifyBlocking("s3crét", against: stored), "\(stored)")
            #expect(hasher.needsRehash(stored))
        }
        // Only the first 72 bytes count, in every bcrypt.
        #expect(try hasher.verifyBlocking(String(repeating: "x", count: 72), against: lines[3]))
        #expect(try hasher.verifyBlocking(String(repeating: "x", count: 80), against: lines[3]))
        #expect(try hasher.verifyBlocking(String(repeating: "x", count: 71), against: lines[3]) == false)
    }

    @Test func aKnownVectorVerifies() throws {
        // From OpenBSD's regression tests (password "U*U").
        #expect(try PasswordHasher().verifyBlocking("U*U", against: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"))
        #expect(
            try PasswordHasher().verifyBlocking("U*U\u{0}", against: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
                == false
        )
    }

    @Test func malformedHashesSayWhy() {
        let short = #expect(throws: PasswordHashError.self) { try PasswordHasher().verifyBlocking("pw", against: "$2b$04$tooshort") }
        #expect(short?.description.contains("60 in all") == true)
        let costly = #expect(throws: PasswordHashError.self) {
            try PasswordHasher().verifyBlocking("pw", against: "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
        }
        #expect(costly?.description == "Malformed password hash: bcrypt's cost must be 4 to 18, got 31.")
    }
}
