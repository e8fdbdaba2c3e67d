import Foundation

/// What a handler answers: a status, headers and a body.
///
/// Handlers usually return something simpler (a `String`, an `HTML`, a `Content` value) and
/// let Carafe build the response; return a `Response` to set the status, headers or cookies.
public struct Response: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    /// Bytes in memory, or a stream written with backpressure (see `Response.stream`).
    public var body: ResponseBody

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.init(status: status, headers: headers, body: .buffer(body))
    }

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: ResponseBody) {
        self.status = status
        self.headers = headers
        // Room for what the app and the server add on the way out (Content-Type, Vary,
        // X-Request-ID, security headers, Content-Length, Date, Server): one allocation, not
        // one per doubling.
        self.headers.reserveCapacity(headers.count + Self.headersAddedOnTheWay)
        self.body = body
    }

    /// How many header fields a response typically gains after the handler made it.
    static let headersAddedOnTheWay = 8

    /// A response whose body `produce` writes chunk by chunk; each `write` waits while the client
    /// is slow to read, so memory stays flat whatever the size. Give `length` when it is known
    /// (it becomes `Content-Length`); otherwise the body is sent chunked.
    ///
    ///     return Response.stream(contentType: "text/csv") { writer in
    ///         for try await row in rows { try await writer.write(ByteBuffer(string: row.csvLine)) }
    ///     }
    public static func stream(
        status: HTTPStatus = .ok,
        contentType: String = "application/octet-stream",
        length: Int? = nil,
        _ produce: @escaping @Sendable (any ResponseBodyWriter) async throws -> Void
    ) -> Response {
        Response(status: status, headers: ["content-type": contentType], body: .stream(length: length, produce))
    }

    /// A response whose body is `text` sent as `contentType`.
    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], text: String, contentType: String = "text/plain; charset=utf-8") {
        self.init(status: status, headers: headers, body: ByteBuffer(string: text))
        self.headers.replaceOrAdd(name: "content-type", value: contentType)
    }

    /// The encoder `json` uses unless given another: made once, as making one per response costs.
    static let jsonEncoder = JSONEncoder()

    /// A JSON response encoding `value`, with `encoder` or a default `JSONEncoder()`.
    public static func json(_ value: some Encodable, status: HTTPStatus = .ok, encoder: JSONEncoder? = nil) throws -> Response {
        var response = Response(status: status, headers: ["content-type": "application/json"])
        response.body = .buffer(ByteBuffer(bytes: try (encoder ?? Self.jsonEncoder).encode(value)))
        return response
    }

    /// A redirect to `location` (Flask's `redirect`): 302 Found unless told otherwise
    /// (`.seeOther` after a POST, `.movedPermanently`, `.temporaryRedirect`, `.permanentRedirect`).
    public static func redirect(to location: String, status: HTTPStatus = .found) -> Response {
        Response(status: status, headers: ["location": location])
    }

    /// Adds a `Set-Cookie` header.
    public mutating func setCookie(_ cookie: Cookie) {
        self.headers.add(name: "set-cookie", value: cookie.headerValue)
    }

    /// Tells the client to forget the cookie `name` (set for `path` and `domain`).
    public mutating func deleteCookie(_ name: String, path: String? = "/", domain: String? = nil) {
        self.setCookie(Cookie(name, "", maxAge: 0, path: path, domain: domain, sameSite: nil))
    }
}

/// A value a handler can return: Carafe turns it into a `Response`.
///
/// Conforming types in Carafe: `Response`, `String` (text/plain), `HTML` (text/html), `JSON`,
/// any `Content` (JSON), arrays and dictionaries of `Content`, `HTTPStatus` (an empty response),
/// `ByteBuffer` (application/octet-stream), and `Optional` of any of them (nil is a 404).
public protocol ResponseEncodable: Sendable {
    func makeResponse(for request: Request) throws -> Response
}

/// A Codable value that answers as JSON: `struct User: Content { ... }`, then return a `User`.
public protocol Content: Codable, ResponseEncodable {}

extension Content {
    public func makeResponse(for request: Request) throws -> Response {
        try Response.json(self, encoder: request.services.jsonEncoder)
    }
}

extension Array: ResponseEncodable where Element: Content {}
extension Array: Content where Element: Content {}
extension Dictionary: ResponseEncodable where Key == String, Value: Content {}
extension Dictionary: Content where Key == String, Value: Content {}

extension Response: ResponseEncodable {
    public func makeResponse(for request: Request) -> Response { self }
}

extension String: ResponseEncodable {
    public func makeResponse(for request: Request) -> Response { Response(text: self) }
}

extension Substring: ResponseEncodable {
    public func makeResponse(for request: Request) -> Response { Response(text: String(self)) }
}

extension HTTPResponseStatus: ResponseEncodable {
    public func makeResponse(for request: Request) -> Response { Response(status: self) }
}

extension ByteBuffer: ResponseEncodable {
    public func makeResponse(for request: Request) -> Response {
        Response(headers: ["content-type": "application/octet-stream"], body: self)
    }
}

extension Optional: ResponseEncodable where Wrapped: ResponseEncodable {
    public func makeResponse(for request: Request) throws -> Response {
        guard let value = self else { throw HTTPError(.notFound) }
        return try value.makeResponse(for: request)
    }
}

/// An HTML page or fragment: `return HTML("<h1>Hello</h1>")`. Escape untrusted text with `HTML.escape`.
public struct HTML: ResponseEncodable {
    public var text: String
    public var status: HTTPStatus

    public init(_ text: String, status: HTTPStatus = .ok) {
        self.text = text
        self.status = status
    }

    public func makeResponse(for request: Request) -> Response {
        Response(status: self.status, text: self.text, contentType: "text/html; charset=utf-8")
    }

    /// `text` with `& < > " '` replaced by entities, safe inside elements and quoted attributes.
    public static func escape(_ text: String) -> String {
        // Byte by byte over the UTF-8 (the five characters are ASCII, and no byte of a longer
        // character is one of them): one pass to count, none more when nothing needs escaping.
        var extra = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "&"): extra += 4  // &amp;
            case UInt8(ascii: "<"), UInt8(ascii: ">"): extra += 3  // &lt; &gt;
            case UInt8(ascii: "\""), UInt8(ascii: "'"): extra += 5  // &quot; &#39;
            default: break
            }
        }
        if extra == 0 { return text }
        return String(unsafeUninitializedCapacity: text.utf8.count + extra) { output in
            var index = 0
            func put(_ literal: StaticString) {
                literal.withUTF8Buffer { bytes in
                    for byte in bytes {
                        output[index] = byte
                        index += 1
                    }
                }
            }
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "&"): put("&amp;")
                case UInt8(ascii: "<"): put("&lt;")
                case UInt8(ascii: ">"): put("&gt;")
                case UInt8(ascii: "\""): put("&quot;")
                case UInt8(ascii: "'"): put("&#39;")
                default:
                    output[index] = byte
                    index += 1
                }
            }
            return index
        }
    }
}

/// Any Encodable value as a JSON response, with a status: `return JSON(["ok": true], status: .created)`.
public struct JSON<Value: Encodable & Sendable>: ResponseEncodable {
    public var value: Value
    public var status: HTTPStatus

    public init(_ value: Value, status: HTTPStatus = .ok) {
        self.value = value
        self.status = status
    }

    public func makeResponse(for request: Request) throws -> Response {
        try Response.json(self.value, status: self.status, encoder: request.services.jsonEncoder)
    }
}
