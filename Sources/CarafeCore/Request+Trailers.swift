import CarafeHTTP

extension Request {
    /// The trailer fields the client sent after the body: the last chunk of a chunked HTTP/1.1
    /// body, or the HEADERS frame that ends an HTTP/2 stream after its DATA (a checksum of the
    /// upload, gRPC's status). Empty if it sent none.
    ///
    /// They come after the body, so this waits for the body's end: on a route that collects the
    /// body (the default) they are there when the handler runs; on a `body: .stream` route, read
    /// `bodyStream` to its end first. They are never merged into `headers`: a field sent as a
    /// trailer (`Authorization`, `Content-Length`) does not act as that header.
    ///
    /// Throws a 500 `HTTPError` when asked before a streamed body was read (it would never come:
    /// the server reads the client only as fast as the body is consumed), a 431 when the client's
    /// trailers broke the server's header limits, and `HTTPBodyError.connectionClosed` if the
    /// client left before the end.
    ///
    ///     app.post("/upload", body: .stream) { req in
    ///         var digest = SHA256()
    ///         for try await chunk in req.bodyStream { digest.update(data: chunk.readableBytesView) }
    ///         let sent = try await req.trailers.first(name: "x-checksum")
    ///         ...
    ///     }
    public var trailers: HTTPHeaders {
        get async throws {
            if self.bodyStream.isUnreadStream {
                throw HTTPError(
                    .internalServerError,
                    "req.trailers was read before the request body: read req.bodyStream to its end first (the trailers follow it)."
                )
            }
            do {
                return try await self.requestTrailers.value()
            } catch let error as RequestTrailersTooLarge {
                throw HTTPError(.requestHeaderFieldsTooLarge, error.description)
            }
        }
    }
}
