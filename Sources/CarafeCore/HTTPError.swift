/// An error that becomes an HTTP error response: Flask's `abort`.
///
///     throw HTTPError(.forbidden, "Only the author may edit this post.")
///
/// The message is shown to the client, so it must not leak internals; errors of any other
/// type become a 500 whose details are only logged (and shown in debug mode).
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPStatus
    public var message: String
    /// Extra headers for the error response, e.g. `Allow` on a 405 or `WWW-Authenticate` on a 401.
    public var headers: HTTPHeaders

    public init(_ status: HTTPStatus, _ message: String? = nil, headers: HTTPHeaders = [:]) {
        self.status = status
        self.message = message ?? status.reasonPhrase
        self.headers = headers
    }

    public var description: String { "\(self.status.code) \(self.status.reasonPhrase): \(self.message)" }
}

/// An error of a library's own type that has an HTTP answer: a handler that lets it through
/// answers with `httpError` (status, message, headers) instead of a 500, and error handlers for
/// that status take it. E.g. a database pool's "unavailable" error becomes a 503.
public protocol HTTPErrorConvertible: Error {
    /// The response's status and the message shown to the client (no internals).
    var httpError: HTTPError { get }
}

/// Stops the request with an HTTP error, as Flask's `abort(404)` does.
///
///     guard let post = try await Post.find(id) else { try abort(.notFound, "No post \(id).") }
public func abort(_ status: HTTPStatus, _ message: String? = nil) throws -> Never {
    throw HTTPError(status, message)
}
