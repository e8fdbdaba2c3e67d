import NIOCore
import NIOHTTP1
import Synchronization

/// The trailer fields a client sent after a request's body: the last chunk of an HTTP/1.1
/// chunked body, or a HEADERS frame that ends an HTTP/2 stream after its DATA (gRPC's
/// `grpc-status`, a checksum computed while the body streamed). They are known only once the
/// body has been read to its end, so `value()` waits for that end.
///
/// Kept apart from the request's headers, never merged into them: a field a client puts in the
/// trailers (`Content-Length`, `Host`, `Authorization`) must not act as the header of that name
/// (RFC 9110 section 6.5.1). The server's header limits apply to them too.
public final class RequestTrailers: Sendable {
    private enum State {
        case pending([CheckedContinuation<HTTPHeaders, any Error>])
        case received(HTTPHeaders)
        case failed(any Error)
    }

    private let state: Mutex<State>

    /// Trailers already known: a request without a body, or one the test client makes.
    public init(_ trailers: HTTPHeaders = [:]) {
        self.state = Mutex(.received(trailers))
    }

    /// No trailers, known from the start: shared by every request without a body, which so
    /// costs no allocation.
    public static let none = RequestTrailers()

    private init(pending: Void) {
        self.state = Mutex(.pending([]))
    }

    /// Trailers still to come, with a streamed body.
    package static func pending() -> RequestTrailers { RequestTrailers(pending: ()) }

    /// The trailers (empty if the client sent none), once the body has ended; throws if the
    /// body did not end (the client left, the connection closed, the trailers broke a limit).
    public func value() async throws -> HTTPHeaders {
        try await withCheckedThrowingContinuation { continuation in
            let known: Result<HTTPHeaders, any Error>? = self.state.withLock { state in
                switch state {
                case .pending(var waiting):
                    waiting.append(continuation)
                    state = .pending(waiting)
                    return nil
                case .received(let trailers): return .success(trailers)
                case .failed(let error): return .failure(error)
                }
            }
            if let known { continuation.resume(with: known) }
        }
    }

    /// The trailers if the body has ended with them, nil while it has not (or did not end).
    public var received: HTTPHeaders? {
        self.state.withLock { state in
            if case .received(let trailers) = state { return trailers }
            return nil
        }
    }

    /// Whether they are still to come.
    package var isPending: Bool {
        self.state.withLock { state in
            if case .pending = state { return true }
            return false
        }
    }

    /// The body ended with `trailers` (nil: none).
    package func receive(_ trailers: HTTPHeaders?) {
        self.settle(.success(trailers ?? [:]))
    }

    /// The body will not end: `error` says why.
    package func fail(_ error: any Error) {
        self.settle(.failure(error))
    }

    private func settle(_ result: Result<HTTPHeaders, any Error>) {
        let waiting: [CheckedContinuation<HTTPHeaders, any Error>] = self.state.withLock { state in
            guard case .pending(let waiting) = state else { return [] }
            switch result {
            case .success(let trailers): state = .received(trailers)
            case .failure(let error): state = .failed(error)
            }
            return waiting
        }
        waiting.forEach { $0.resume(with: result) }
    }
}

/// Trailers that broke the server's header limits (`HTTPServerConfiguration.maxHeaderFields`,
/// `maxHeaderFieldSize`): dropped, and `RequestTrailers.value()` throws this.
public struct RequestTrailersTooLarge: Error, CustomStringConvertible {
    public let description: String
    package init(_ description: String) { self.description = description }
}

extension HTTPRequestHandler {
    /// The request's `.end` came, with trailers or none: within the head's limits, they are the
    /// request's; past them they are dropped and reading them throws, naming the limit.
    func receivedTrailers(_ fields: HTTPHeaders?) {
        guard let trailers = self.trailers else { return }
        self.trailers = nil
        guard let fields else { return trailers.receive(nil) }
        let c = self.configuration
        if fields.count > c.maxHeaderFields {
            return trailers.fail(RequestTrailersTooLarge("The request has \(fields.count) trailer fields; the limit is \(c.maxHeaderFields)."))
        }
        for (name, value) in fields where name.utf8.count + value.utf8.count + 2 > c.maxHeaderFieldSize {
            return trailers.fail(
                RequestTrailersTooLarge(
                    "Trailer field '\(name.prefix(64))' is \(name.utf8.count + value.utf8.count + 2) bytes; the limit is \(c.maxHeaderFieldSize)."
                )
            )
        }
        trailers.receive(fields)
    }
}
