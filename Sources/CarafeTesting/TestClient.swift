import CarafeCore
import Foundation
import NIOHTTP1
import Synchronization

extension App {
    /// A client that sends requests straight to the app, without a socket (Flask's
    /// `test_client`): routing, hooks, error handlers and the body limit work as when serving.
    ///
    ///     let response = try await app.test.get("/users/1")
    ///     #expect(response.status == .ok)
    public var test: TestClient { TestClient(app: self) }
}

/// Sends requests to an `App` in-process. See `App.test`.
public struct TestClient: Sendable {
    public let app: App
    /// The client address handlers see.
    public var remoteAddress: SocketAddress? = try? SocketAddress(ipAddress: "127.0.0.1", port: 40000)
    /// Cookies kept between requests, as a browser keeps them; nil (the default) keeps none.
    public var cookies: TestCookieJar?

    public init(app: App, cookies: TestCookieJar? = nil) {
        self.app = app
        self.cookies = cookies
    }

    /// A client that keeps the cookies responses set and sends them with later requests, as a
    /// browser does: log in once, then make requests as that user.
    ///
    ///     let client = app.test.keepingCookies()
    ///     _ = await client.post("/login", form: ["name": "ann", "password": "…"])
    ///     #expect(await client.get("/").text.contains("Hello, ann"))
    public func keepingCookies() -> TestClient {
        TestClient(app: self.app, cookies: TestCookieJar())
    }

    /// Sends a request and returns the response, as a server would write it.
    public func request(
        _ method: HTTPMethod,
        _ uri: String,
        headers: HTTPHeaders = [:],
        body: ByteBuffer = ByteBuffer()
    ) async -> TestResponse {
        var headers = headers
        if body.readableBytes > 0 && !headers.contains(name: "content-length") {
            headers.add(name: "content-length", value: String(body.readableBytes))
        }
        if let cookie = self.cookies?.header, !headers.contains(name: "cookie") {
            headers.add(name: "cookie", value: cookie)
        }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)
        let completion = ResponseCompletion()
        let started = ContinuousClock.now
        let response = await self.app.respond(
            to: HTTPServerRequest(head: head, body: RequestBody(body), remoteAddress: self.remoteAddress, completion: completion)
        )
        self.cookies?.store(response.headers["set-cookie"])
        var received = ByteBuffer()
        var trailers: HTTPHeaders = [:]
        switch response.body {
        case .buffer(let buffer):
            received = buffer
        case .stream(_, let produce) where method != .HEAD:
            let writer = CollectingBodyWriter()
            try? await produce(writer)
            received = writer.collected
            trailers = writer.trailers
        case .stream, .webSocket:
            break  // a WebSocket needs a real connection: test it over a socket
        }
        // As the server does once the last byte is out: teardown hooks waiting for the end run.
        completion.finish(
            ResponseSummary(bytes: received.readableBytes, duration: ContinuousClock.now - started, complete: true, status: response.status)
        )
        var answer = TestResponse(status: response.status, headers: response.headers, body: method == .HEAD ? ByteBuffer() : received)
        answer.trailers = trailers
        return answer
    }

    public func get(_ uri: String, headers: HTTPHeaders = [:]) async -> TestResponse {
        await self.request(.GET, uri, headers: headers)
    }

    public func head(_ uri: String, headers: HTTPHeaders = [:]) async -> TestResponse {
        await self.request(.HEAD, uri, headers: headers)
    }

    public func options(_ uri: String, headers: HTTPHeaders = [:]) async -> TestResponse {
        await self.request(.OPTIONS, uri, headers: headers)
    }

    public func delete(_ uri: String, headers: HTTPHeaders = [:]) async -> TestResponse {
        await self.request(.DELETE, uri, headers: headers)
    }

    /// Sends `body` as text with `contentType`.
    public func post(
        _ uri: String,
        _ body: String = "",
        contentType: String = "text/plain; charset=utf-8",
        headers: HTTPHeaders = [:]
    ) async -> TestResponse {
        await self.send(.POST, uri, body, contentType: contentType, headers: headers)
    }

    public func put(
        _ uri: String,
        _ body: String = "",
        contentType: String = "text/plain; charset=utf-8",
        headers: HTTPHeaders = [:]
    ) async -> TestResponse {
        await self.send(.PUT, uri, body, contentType: contentType, headers: headers)
    }

    public func patch(
        _ uri: String,
        _ body: String = "",
        contentType: String = "text/plain; charset=utf-8",
        headers: HTTPHeaders = [:]
    ) async -> TestResponse {
        await self.send(.PATCH, uri, body, contentType: contentType, headers: headers)
    }

    /// Sends `value` as a JSON body.
    public func post(_ uri: String, json value: some Encodable, headers: HTTPHeaders = [:]) async throws -> TestResponse {
        let data = try JSONEncoder().encode(value)
        return await self.send(.POST, uri, String(decoding: data, as: UTF8.self), contentType: "application/json", headers: headers)
    }

    /// Sends `fields` as an `application/x-www-form-urlencoded` body, as a browser submits a form.
    public func post(_ uri: String, form fields: KeyValuePairs<String, String>, headers: HTTPHeaders = [:]) async -> TestResponse {
        let body = fields.map { "\(Self.formEscape($0.key))=\(Self.formEscape($0.value))" }.joined(separator: "&")
        return await self.send(.POST, uri, body, contentType: "application/x-www-form-urlencoded", headers: headers)
    }

    private func send(_ method: HTTPMethod, _ uri: String, _ body: String, contentType: String, headers: HTTPHeaders) async -> TestResponse
    {
        var headers = headers
        if !headers.contains(name: "content-type") { headers.add(name: "content-type", value: contentType) }
        return await self.request(method, uri, headers: headers, body: ByteBuffer(string: body))
    }

    private static func formEscape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~ ")
        return (text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text).replacingOccurrences(of: " ", with: "+")
    }
}

/// A response the test client received.
public struct TestResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer
    /// The trailers a streamed body ended with (`ResponseBodyWriter.writeTrailers`).
    public var trailers: HTTPHeaders = [:]

    /// The first value of the header `name` (any case), if any: `response.header("location")`.
    public func header(_ name: String) -> String? {
        self.headers.first(name: name)
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: self.body.readableBytesView, as: UTF8.self) }

    /// The body decoded from JSON.
    public func json<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(self.body.readableBytesView))
    }
}

/// Collects a streamed response body in memory.
private final class CollectingBodyWriter: ResponseBodyWriter {
    private let buffer = Mutex(ByteBuffer())
    private let ended = Mutex(HTTPHeaders())

    var collected: ByteBuffer { self.buffer.withLock { $0 } }
    var trailers: HTTPHeaders { self.ended.withLock { $0 } }

    func writeTrailers(_ trailers: HTTPHeaders) async throws {
        try ResponseTrailersError.check(trailers)
        self.ended.withLock { $0 = trailers }
    }

    func write(_ chunk: ByteBuffer) async throws {
        self.buffer.withLock { buffer in
            var chunk = chunk
            buffer.writeBuffer(&chunk)
        }
    }
}
