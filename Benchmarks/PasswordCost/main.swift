// What one password hash costs with each `PasswordHasher` method, on one thread: the median
// of several runs, in milliseconds. `scripts/bench-passwords` builds it in release mode and
// runs it beside Werkzeug (Python's hashlib, on OpenSSL) on the same CPU.
//
//     password-cost [RUNS]
import CarafeSessions
import Foundation

let runs = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 9
let methods: [PasswordHasher.Method] = [
    .scrypt(n: 32768), .recommended, .pbkdf2(.sha256, iterations: 600_000), .pbkdf2(.sha512, iterations: 210_000),
]
for method in methods {
    let hasher = PasswordHasher(method)
    let stored = try hasher.hashBlocking("correct horse battery staple")
    var milliseconds: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        guard try hasher.verifyBlocking("correct horse battery staple", against: stored) else { fatalError("verify failed") }
        let elapsed = ContinuousClock.now - start
        milliseconds.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
    }
    milliseconds.sort()
    let name = "\(method)".padding(toLength: 22, withPad: " ", startingAt: 0)
    print(
        name
            + String(
                format: " median %7.1f ms  (min %.1f, max %.1f, %d runs)",
                milliseconds[runs / 2],
                milliseconds[0],
                milliseconds[runs - 1],
                runs
            )
    )
}
