import CarafeCore
import Foundation

/// One part of a multipart body the test client sends: a text field or a file.
public struct MultipartTestPart: Sendable {
    public var name: String
    public var filename: String?
    public var contentType: String?
    public var bytes: [UInt8]

    /// A text field.
    public static func field(_ name: String, _ value: String) -> MultipartTestPart {
        MultipartTestPart(name: name, filename: nil, contentType: nil, bytes: Array(value.utf8))
    }

    /// A file, as a browser's file input sends it.
    public static func file(
        _ name: String,
        filename: String,
        contentType: String = "application/octet-stream",
        _ bytes: [UInt8]
    ) -> MultipartTestPart {
        MultipartTestPart(name: name, filename: filename, contentType: contentType, bytes: bytes)
    }

    /// A file with text content.
    public static func file(_ name: String, filename: String, contentType: String = "text/plain", text: String) -> MultipartTestPart {
        .file(name, filename: filename, contentType: contentType, Array(text.utf8))
    }
}

extension TestClient {
    /// The boundary `post(_:multipart:)` uses.
    public static let multipartBoundary = "CarafeTestBoundary7MA4YWxkTrZu0gW"

    /// Sends `parts` as a `multipart/form-data` body, as a browser submits a form with files.
    public func post(_ uri: String, multipart parts: [MultipartTestPart], headers: HTTPHeaders = [:]) async -> TestResponse {
        var headers = headers
        headers.replaceOrAdd(name: "content-type", value: "multipart/form-data; boundary=\(Self.multipartBoundary)")
        return await self.request(.POST, uri, headers: headers, body: Self.multipartBody(parts))
    }

    /// The bytes of a `multipart/form-data` body with `TestClient.multipartBoundary`.
    public static func multipartBody(_ parts: [MultipartTestPart], boundary: String = Self.multipartBoundary) -> ByteBuffer {
        var body = ByteBuffer()
        for part in parts {
            body.writeString("--\(boundary)\r\n")
            var disposition = "form-data; name=\"\(Self.quote(part.name))\""
            if let filename = part.filename { disposition += "; filename=\"\(Self.quote(filename))\"" }
            body.writeString("Content-Disposition: \(disposition)\r\n")
            if let type = part.contentType { body.writeString("Content-Type: \(type)\r\n") }
            body.writeString("\r\n")
            body.writeBytes(part.bytes)
            body.writeString("\r\n")
        }
        body.writeString("--\(boundary)--\r\n")
        return body
    }

    /// As browsers quote names (WHATWG): `"` as `%22`, CR and LF as `%0D` `%0A`.
    private static func quote(_ text: String) -> String {
        text.replacingOccurrences(of: "\"", with: "%22").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(
            of: "\n",
            with: "%0A"
        )
    }
}
