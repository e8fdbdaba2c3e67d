/// Why a `multipart/form-data` body was refused: each case is an HTTP error (400, 413 or 415)
/// whose message says what was wrong and, past a limit, which limit and its value.
public enum MultipartError: Error, Sendable, Equatable, HTTPErrorConvertible, CustomStringConvertible {
    /// The content type is not `multipart/form-data` (415).
    case notMultipart(String?)
    /// The content type has no `boundary` parameter (400).
    case missingBoundary
    /// The boundary is empty, too long, or has characters RFC 2046 forbids (400).
    case invalidBoundary(String)
    /// The body ends before its close delimiter (400).
    case truncated(String)
    /// A part's headers or delimiters do not parse (400).
    case malformed(String)
    /// A part has no `Content-Disposition: form-data; name=…` (400).
    case missingName(part: Int)
    /// More parts than `MultipartLimits.maxParts` (413).
    case tooManyParts(limit: Int)
    /// A part's headers are larger than `maxPartHeaderSize` (413).
    case headersTooLarge(part: Int, limit: Int)
    /// A field that is not a file is larger than `maxFieldSize` (413).
    case fieldTooLarge(name: String, limit: Int)
    /// The body is larger than `maxTotalSize` (413).
    case bodyTooLarge(limit: Int)

    public var httpError: HTTPError {
        switch self {
        case .notMultipart: HTTPError(.unsupportedMediaType, self.description)
        case .tooManyParts, .headersTooLarge, .fieldTooLarge, .bodyTooLarge: HTTPError(.payloadTooLarge, self.description)
        default: HTTPError(.badRequest, self.description)
        }
    }

    public var description: String {
        switch self {
        case .notMultipart(let type):
            "Expected a body of type multipart/form-data, got \(type ?? "none")."
        case .missingBoundary:
            "Invalid multipart body: the Content-Type has no boundary parameter."
        case .invalidBoundary(let boundary):
            "Invalid multipart body: the boundary '\(boundary.prefix(80))' is not 1 to 70 characters allowed by RFC 2046."
        case .truncated(let detail):
            "Invalid multipart body: it is truncated (\(detail))."
        case .malformed(let detail):
            "Invalid multipart body: \(detail)."
        case .missingName(let part):
            "Invalid multipart body: part \(part) has no Content-Disposition: form-data with a name."
        case .tooManyParts(let limit):
            "The multipart body has more than \(limit) parts (limit maxParts)."
        case .headersTooLarge(let part, let limit):
            "The headers of multipart part \(part) are larger than \(limit) bytes (limit maxPartHeaderSize)."
        case .fieldTooLarge(let name, let limit):
            "The multipart field '\(name.prefix(100))' is larger than \(limit) bytes (limit maxFieldSize)."
        case .bodyTooLarge(let limit):
            "The multipart body is larger than \(limit) bytes (limit maxTotalSize)."
        }
    }
}
