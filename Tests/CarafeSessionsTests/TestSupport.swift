import CarafeTesting
import Foundation
import Synchronization

@testable import CarafeCore

/// A secret key long enough for sessions.
let secretKey = "0123456789abcdef0123456789abcdef-test-key"

extension TestResponse {
    /// The `Set-Cookie` header for `name`, whole (value and attributes).
    func setCookie(_ name: String) -> String? {
        self.headers["set-cookie"].first { $0.hasPrefix("\(name)=") }
    }

    /// The value the response sets for cookie `name`.
    func cookieValue(_ name: String = "session") -> String? {
        self.setCookie(name).map { String($0.dropFirst(name.count + 1).prefix { $0 != ";" }) }
    }
}

/// Headers that send the cookie `session=value`.
func sessionCookie(_ value: String?) -> HTTPHeaders {
    guard let value else { return [:] }
    return ["cookie": "session=\(value)"]
}

/// A clock a test moves by hand.
final class ManualClock: Sendable {
    private let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { self.time.withLock { $0 } }
    func advance(seconds: Int) { self.time.withLock { $0 += TimeInterval(seconds) } }
}
