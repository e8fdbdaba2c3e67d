import NIOCore

/// Gives one request a handler deadline of its own, once the responder knows what it is for
/// (the framework sets a route's `timeout:` after matching it): the request is answered 503
/// with `Retry-After`, and its task cancelled, if no response head is written by then.
///
/// It replaces the app-wide `HTTPServerConfiguration.handlerTimeout` for that request, and
/// counts from the arrival of the request head, as that one does. The server enforces it in
/// the connection's state machine with the other deadlines; for a request that did not come
/// over a connection (the test client) setting it does nothing.
public struct RequestDeadline: Sendable {
    private let apply: (@Sendable (TimeAmount, String) -> Void)?

    /// A deadline nothing enforces.
    public init() {
        self.apply = nil
    }

    init(_ apply: @escaping @Sendable (TimeAmount, String) -> Void) {
        self.apply = apply
    }

    /// Sets the request's handler deadline to `timeout` after its head arrived. `origin` says
    /// where the limit was set, for the 503's message and the log: `the timeout of route GET /report`.
    public func set(_ timeout: TimeAmount, origin: String) {
        self.apply?(timeout, origin)
    }
}
