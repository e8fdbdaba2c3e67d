import CarafeCore
import CompressNIO

/// Response compression (flask-compress): gzip or deflate, chosen by the client's
/// `Accept-Encoding` and its q-values, for textual bodies of at least `minimumSize` bytes.
///
///     import CarafeCompression
///     app.compression()                                  // the defaults
///     app.compression(ResponseCompression(minimumSize: 1024, level: 6))
///
/// Compressed responses get `Content-Encoding`, `Vary: Accept-Encoding` (also when not
/// compressed, as the answer depended on it), a weak `ETag` (the bytes differ from the
/// identity's) and no `Content-Length` for streams, which go out chunked. Nothing is done for
/// HEAD, 204, 304 and 206 responses, bodies already encoded, `Cache-Control: no-transform`, or
/// WebSockets. A streamed body (`Response.stream`, Server-Sent Events) is compressed chunk by
/// chunk with a sync flush after each write, so every event reaches the client at once.
public struct ResponseCompression: Sendable {
    /// Bodies in memory smaller than this are sent as they are (compressing them costs more
    /// than it saves). Streams of unknown length are always compressed.
    public var minimumSize: Int
    /// zlib's level, 1 (fastest) to 9 (smallest); 6 is zlib's default.
    public var level: Int
    /// The content types compressed: a type matches an entry equal to it or, for an entry
    /// ending in `/*`, of that family. Images, audio, video and archives are compressed already.
    public var contentTypes: [String]

    public static let textualTypes = [
        "text/*", "application/json", "application/javascript", "application/xml", "application/xhtml+xml",
        "application/rss+xml", "application/atom+xml", "application/manifest+json", "application/ld+json",
        "application/problem+json", "application/wasm", "image/svg+xml", "font/ttf", "font/otf",
    ]

    public init(minimumSize: Int = 500, level: Int = 6, contentTypes: [String] = ResponseCompression.textualTypes) {
        self.minimumSize = minimumSize
        self.level = level
        self.contentTypes = contentTypes
    }

    /// Whether `contentType` (a `Content-Type` value) is one to compress.
    func compresses(_ contentType: String?) -> Bool {
        // Byte-wise: this runs for every response, and Foundation's trimming costs per call.
        guard let full = contentType?.utf8 else { return false }
        let end = full.firstIndex(of: UInt8(ascii: ";")) ?? full.endIndex
        var essence = full[full.startIndex..<end]
        while let first = essence.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { essence = essence.dropFirst() }
        while let last = essence.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { essence = essence.dropLast() }
        guard !essence.isEmpty else { return false }
        let type = String(decoding: essence, as: UTF8.self).lowercased()
        return self.contentTypes.contains { entry in
            entry == type || (entry.hasSuffix("/*") && type.hasPrefix(entry.dropLast()))
                || (entry == "application/json" && type.hasSuffix("+json"))
        }
    }

    /// `response`, compressed for `request` if both allow it.
    public func apply(_ response: Response, for request: Request) -> Response {
        var response = response
        // A small body in memory is never compressed, whatever its type: decided first, as it
        // is the common case (and costs nothing to tell).
        if case .buffer(let buffer) = response.body, buffer.readableBytes < self.minimumSize { return response }
        guard request.method != .HEAD, ![.noContent, .notModified, .partialContent].contains(response.status),
            response.status.code >= 200, !response.headers.contains(name: "content-encoding"),
            !response.headers[canonicalForm: "cache-control"].contains(where: { $0.lowercased() == "no-transform" }),
            self.compresses(response.headers.first(name: "content-type"))
        else { return response }
        switch response.body {
        case .webSocket: return response
        case .buffer(let buffer) where buffer.readableBytes < self.minimumSize: return response
        default: break
        }
        response.headers.addVary("Accept-Encoding")
        guard let encoding = ContentCoding.negotiate(request.headers[canonicalForm: "accept-encoding"].map(String.init)) else {
            return response
        }
        switch response.body {
        case .buffer(var buffer):
            guard let compressed = try? Deflater(encoding, level: self.level).compressAll(&buffer),
                compressed.readableBytes < buffer.readableBytes
            else { return response }
            response.body = .buffer(compressed)
        case .stream(_, let produce):
            let level = self.level
            response.body = .stream(length: nil) { writer in
                let compressing = try CompressingBodyWriter(writer, encoding, level: level)
                try await compressing.start()
                try await produce(compressing)
                try await compressing.finish()
            }
        case .webSocket:
            return response
        }
        response.headers.replaceOrAdd(name: "content-encoding", value: encoding.rawValue)
        response.headers.remove(name: "content-length")
        response.headers.remove(name: "accept-ranges")
        if let etag = response.headers.first(name: "etag"), !etag.hasPrefix("W/") {
            response.headers.replaceOrAdd(name: "etag", value: "W/" + etag)
        }
        return response
    }
}

extension App {
    /// Compresses responses as `settings` say (see `ResponseCompression`). An after-hook of the
    /// app: register it first, so that it sees the responses of every later after-hook.
    @discardableResult
    public func compression(_ settings: ResponseCompression = ResponseCompression()) -> Self {
        self.after { request, response in settings.apply(response, for: request) }
        return self
    }
}

/// A content coding Carafe produces and accepts.
public enum ContentCoding: String, Sendable, CaseIterable {
    case gzip
    /// RFC 9110's `deflate`: the zlib format (RFC 1950).
    case deflate

    /// The coding `Accept-Encoding` prefers: highest q first, gzip on a tie; nil for identity.
    static func negotiate(_ headers: [String]) -> ContentCoding? {
        var weights: [String: Double] = [:]
        for item in headers.flatMap({ $0.split(separator: ",") }) {
            let pieces = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let name = pieces.first, !name.isEmpty else { continue }
            var q = 1.0
            for parameter in pieces.dropFirst() where parameter.hasPrefix("q=") {
                q = Double(parameter.dropFirst(2)) ?? 0
            }
            weights[name] = q
        }
        let star = weights["*"]
        let candidates = ContentCoding.allCases.compactMap { coding -> (ContentCoding, Double)? in
            let q = weights[coding.rawValue] ?? (coding == .gzip ? weights["x-gzip"] : nil) ?? star ?? 0
            return q > 0 ? (coding, q) : nil
        }
        return candidates.max { $0.1 < $1.1 || ($0.1 == $1.1 && $1.0 == .gzip) }?.0
    }

    var algorithm: ZlibAlgorithm {
        switch self {
        case .gzip: .gzip
        case .deflate: .zlib
        }
    }
}
