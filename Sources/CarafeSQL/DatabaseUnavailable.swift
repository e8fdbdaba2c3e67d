import CarafeCore

/// The database cannot serve a query now: it is down or restarting, every connection stayed
/// busy past the pool's wait, or the connection was lost mid-query. A handler that lets it
/// through answers `503 Service Unavailable` with `Retry-After: 1`, at once, instead of hanging.
public struct DatabaseUnavailable: Error, HTTPErrorConvertible, CustomStringConvertible {
    /// Why, for the log and the client; no addresses or credentials.
    public let reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var httpError: HTTPError {
        HTTPError(.serviceUnavailable, "The database is unavailable: \(self.reason). Try again shortly.", headers: ["Retry-After": "1"])
    }

    public var description: String { "database unavailable: \(self.reason)" }
}
