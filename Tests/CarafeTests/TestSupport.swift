import CarafeTesting
import Synchronization

@testable import CarafeCore

/// An error of a type Carafe knows nothing about, carrying something clients must not see.
struct Boom: Error {
    var secret = "password=hunter2"
}
