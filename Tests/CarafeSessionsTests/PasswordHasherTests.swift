import CarafeCore
import CarafeSessions
import CarafeTesting
import Foundation
import NIOPosix
import Testing

/// Password hashing: round trips, the stored format, damaged hashes, and Werkzeug's own hashes.
@Suite struct PasswordHasherTests {
    @Test func aHashVerifiesItsPasswordAndNoOther() async throws {
        let hasher = PasswordHasher(.scrypt(n: 1024))  // the default's format, at a cost debug builds afford
        let stored = try await hasher.hash("correct horse battery staple")
        #expect(stored.wholeMatch(of: #/scrypt:1024:8:1\$[A-Za-z0-9]{16}\$[0-9a-f]{128}/#) != nil, "\(stored)")
        #expect(try await hasher.verify("correct horse battery staple", against: stored))
        #expect(try await hasher.verify("correct horse battery stapl", against: stored) == false)
        #expect(try await hasher.verify("", against: stored) == false)
        // A new salt each time: the same password never gives the same hash.
        #expect(try await hasher.hash("correct horse battery staple") != stored)
    }

    @Test func pbkdf2HashesVerifyToo() async throws {
        let hasher = PasswordHasher(.pbkdf2(iterations: 1000))
        let stored = try await hasher.hash("pässwörd")
        #expect(stored.wholeMatch(of: #/pbkdf2:sha256:1000\$[A-Za-z0-9]{16}\$[0-9a-f]{64}/#) != nil, "\(stored)")
        #expect(try await hasher.verify("pässwörd", against: stored))
        #expect(try await hasher.verify("passwörd", against: stored) == false)
        let sha512 = try PasswordHasher(.pbkdf2(.sha512, iterations: 1000)).hashBlocking("x")
        #expect(sha512.hasPrefix("pbkdf2:sha512:1000$"))
        // Verifying takes the method from the hash, whatever the hasher's own.
        #expect(try PasswordHasher().verifyBlocking("x", against: sha512))
    }

    @Test func aDamagedStoredHashIsAClearErrorNotAFalse() async throws {
        let hasher = PasswordHasher()
        let good = try PasswordHasher(.scrypt(n: 16)).hashBlocking("pw")  // cheap: only its parts are used
        let parts = good.split(separator: "$").map(String.init)
        let cases: [(String, String)] = [
            ("", "3 parts"),
            ("plaintext-password", "3 parts"),
            ("a$b$c$d", "got 4 parts"),
            ("md5$salt$\(parts[2])", "unknown method 'md5'"),
            ("scrypt:32768:8$\(parts[1])$\(parts[2])", "expected 'scrypt:N:r:p'"),
            ("scrypt:1000:8:1$\(parts[1])$\(parts[2])", "power of 2"),
            ("scrypt:1073741824:8:1$\(parts[1])$\(parts[2])", "power of 2 from 2 to 1048576"),
            ("scrypt:32768:64:1$\(parts[1])$\(parts[2])", "r must be 1 to 16"),
            ("pbkdf2:sha1:1000$\(parts[1])$\(parts[2])", "expected 'pbkdf2:sha256:ITERATIONS'"),
            ("pbkdf2:sha256:0$\(parts[1])$\(parts[2])", "iterations must be"),
            ("\(parts[0])$$\(parts[2])", "salt is empty"),
            ("\(parts[0])$\(parts[1])$xyz", "hexadecimal"),
            ("\(parts[0])$\(parts[1])$abcd", "hexadecimal"),
        ]
        for (stored, detail) in cases {
            let error = await #expect(throws: PasswordHashError.self, "\(stored)") {
                try await hasher.verify("pw", against: stored)
            }
            #expect(error?.description.hasPrefix("Malformed password hash: ") == true, "\(stored)")
            #expect(error?.description.contains(detail) == true, "\(stored): \(error?.description ?? "")")
        }
        #expect(hasher.needsRehash("garbage"))
    }

    @Test func invalidHasherParametersAreRefusedWhenHashing() {
        let error = #expect(throws: PasswordHashError.self) { try PasswordHasher(.scrypt(n: 1000)).hashBlocking("pw") }
        #expect(error?.description.contains("Invalid password hashing method: scrypt's N must be a power of 2") == true)
    }

    @Test func needsRehashTellsOldParametersFromCurrentOnes() throws {
        let current = PasswordHasher(.pbkdf2(iterations: 2000))
        #expect(current.needsRehash(try PasswordHasher(.pbkdf2(iterations: 1000)).hashBlocking("pw")))
        #expect(current.needsRehash(try current.hashBlocking("pw")) == false)
    }

    /// Hashes made by Werkzeug (what Flask apps store) verify here, and ours verify there.
    @Test func werkzeugHashesVerifyHereAndOursThere() throws {
        let script = """
            import sys
            from werkzeug.security import generate_password_hash, check_password_hash
            if sys.argv[1] == "make":
                print(generate_password_hash("s3cr\\u00e9t", method="scrypt"))
                print(generate_password_hash("s3cr\\u00e9t", method="pbkdf2:sha256:1000"))
                print(generate_password_hash("s3cr\\u00e9t", method="pbkdf2:sha512:1000"))
            else:
                for stored in sys.argv[2:]:
                    print(check_password_hash(stored, "s3cr\\u00e9t"), check_password_hash(stored, "s3cret"))
            """
        let made = try Self.python(script, ["make"])
        let theirs = made.split(separator: "\n").map(String.init)
        #expect(theirs.count == 3, "\(made)")
        #expect(theirs.first?.hasPrefix("scrypt:32768:8:1$") == true)
        for stored in theirs {
            #expect(try PasswordHasher().verifyBlocking("s3crét", against: stored), "\(stored)")
            #expect(try PasswordHasher().verifyBlocking("s3cret", against: stored) == false, "\(stored)")
        }
        let ours = try [PasswordHasher().hashBlocking("s3crét"), PasswordHasher(.pbkdf2(iterations: 1000)).hashBlocking("s3crét")]
        let checked = try Self.python(script, ["check"] + ours)
        #expect(checked == "True False\nTrue False\n", "\(checked)")
    }

    /// Runs `script` with python3 (which needs Werkzeug: `.ci/run` installs it).
    static func python(_ script: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "python3 failed (is Werkzeug installed? `pip install werkzeug`): \(errorText)")
        return text
    }
}

/// The hashing pool's bounded queue: past it, a log-in is refused at once with a 503.
@Suite struct PasswordHasherQueueTests {
    @Test func pastTheQueueLimitHashingThrowsAtOnceAndTheAppAnswers503() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer { pool.shutdownGracefully { _ in } }
        let hasher = PasswordHasher(.pbkdf2(iterations: 1000), threadPool: pool, queueLimit: 1)
        // Something else holds the only thread; the first hash waits for it.
        let release = DispatchSemaphore(value: 0)
        pool.submit { _ in release.wait() }
        let first = Task { try await hasher.hash("first") }
        let deadline = ContinuousClock.now + .seconds(5)
        while hasher.waiting < 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
        #expect(hasher.waiting == 1)

        let app = App()
        app.post("/login") { _ in try await hasher.hash("second") }
        let started = ContinuousClock.now
        let refused = await app.test.post("/login")
        #expect(ContinuousClock.now - started < .seconds(1), "refused at once, not queued")
        #expect(refused.status == .serviceUnavailable)
        #expect(refused.headers.first(name: "retry-after") == "1")
        #expect(refused.text.contains("(the limit is 1, PasswordHasher's queueLimit)"), "\(refused.text)")

        release.signal()
        #expect(try await first.value.hasPrefix("pbkdf2:sha256:1000$"))
        #expect(hasher.waiting == 0)
        #expect(try await hasher.verify("second", against: try await hasher.hash("second")))
    }
}
