import CarafeTesting
import Synchronization

@testable import CarafeCore

/// Notes what hooks and handlers did, in order; safe to share between a test and its app.
final class Recorder: Sendable {
    private let entries = Mutex<[String]>([])

    func record(_ entry: String) {
        self.entries.withLock { $0.append(entry) }
    }

    var all: [String] { self.entries.withLock { $0 } }
}

/// An error of a type Carafe knows nothing about, carrying something clients must not see.
struct Boom: Error {
    var secret = "password=hunter2"
}

extension TestResponse {
    /// The first value of the header `name`, if any.
    func header(_ name: String) -> String? {
        self.headers.first(name: name)
    }
}
