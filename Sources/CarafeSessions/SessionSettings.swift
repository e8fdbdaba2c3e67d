import CarafeCore
import Foundation

/// How an app's sessions are signed and sent: what `App.sessions` was given.
struct SessionSettings: Sendable {
    let signer: SessionSigner
    let cookieName: String
    let maxAgeSeconds: Int
    let secure: Bool
    let sameSite: Cookie.SameSite
    let domain: String?
    /// The clock: the real one, except in tests that need old cookies.
    let now: @Sendable () -> Date

    /// The `Set-Cookie` for a session holding `values`.
    func cookie(for values: [String: String]) -> Cookie {
        Cookie(
            self.cookieName,
            self.signer.sign(values, at: self.now()),
            maxAge: self.maxAgeSeconds,
            path: "/",
            domain: self.domain,
            secure: self.secure,
            httpOnly: true,
            sameSite: self.sameSite
        )
    }
}
