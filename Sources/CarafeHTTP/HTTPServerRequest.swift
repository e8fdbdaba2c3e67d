import NIOCore
import NIOHTTP1

/// A request as the server hands it over, as soon as its head is read: the parsed head and the
/// body, which may still be arriving.
public struct HTTPServerRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: RequestBody
    /// The peer's address; nil for requests that did not come over a socket (the test client).
    public var remoteAddress: SocketAddress?
    /// Whether it came over TLS to this server (`req.scheme` is then `https`).
    public var isSecure = false
    /// Completes when the response to this request has fully ended (its last byte written, a
    /// streamed body's producer done, a WebSocket session closed), with what was written: the
    /// place for teardown work and for logging real byte counts and durations.
    public let completion: ResponseCompletion
    /// Sets this request's own handler deadline (a route's `timeout:`), in place of the app-wide one.
    public var deadline = RequestDeadline()
    /// The trailer fields sent after the body (chunked HTTP/1.1, HTTP/2), known once it ended.
    public var trailers = RequestTrailers.none

    public init(
        head: HTTPRequestHead,
        body: RequestBody = RequestBody(),
        remoteAddress: SocketAddress? = nil,
        completion: ResponseCompletion = ResponseCompletion()
    ) {
        self.head = head
        self.body = body
        self.remoteAddress = remoteAddress
        self.completion = completion
    }
}

/// A response to write: status, headers and a body in memory or streamed.
///
/// The server adds `Content-Length` (when the length is known), `Date`, `Server` and, when the
/// connection ends after it, `Connection: close`. A response to `HEAD` is sent without its body
/// (a streamed body's producer is not run).
public struct HTTPServerResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ResponseBody

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ResponseBody = .buffer(ByteBuffer())) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// What the server calls to answer each request.
///
/// Invariants the server keeps: `respond` is called once the request head is read, as a task
/// whose executor is the connection's event loop, so non-isolated code in it runs on that
/// loop's thread; calls for one connection never overlap (responses go out in request order);
/// the task is cancelled when the client disconnects. If the response is complete before the
/// request body was read to its end, the connection closes after it. `respond` does not throw:
/// turning errors into responses is the responder's job.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPServerRequest) async -> HTTPServerResponse
}

extension HTTPServerResponse {
    /// A plain-text error that ends the connection, as the server sends for a request it will
    /// not hand to the responder (a broken limit, a malformed request).
    public static func rejection(_ status: HTTPResponseStatus, _ message: String) -> HTTPServerResponse {
        HTTPServerResponse(
            status: status,
            headers: ["content-type": "text/plain; charset=utf-8", "connection": "close"],
            body: .buffer(ByteBuffer(string: errorText(status, message)))
        )
    }

    /// An error body: `404 Not Found: No route for /x.` and a newline.
    public static func errorText(_ status: HTTPResponseStatus, _ message: String) -> String {
        "\(status.code) \(status.reasonPhrase): \(message)\n"
    }
}
