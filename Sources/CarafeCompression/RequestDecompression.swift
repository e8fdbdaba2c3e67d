import CarafeCore
import CompressNIO

/// Request bodies sent with `Content-Encoding: gzip` or `deflate`, decompressed as they arrive
/// with limits against decompression bombs:
///
///     app.requestDecompression()   // up to 16 MiB decompressed, at most 100 times the compressed size
///
/// Past either limit the request is refused with `413` naming the limit; a body that does not
/// decompress is a `400`; another coding is a `415` (RFC 7694). Routes then see the plain body
/// (`req.body`, `req.bodyStream`, forms, `decode`), and the app's `maxBodySize` applies to it.
public struct RequestDecompression: Sendable {
    /// At most this many bytes once decompressed.
    public var maxSize: Int
    /// At most this many decompressed bytes per compressed byte (past the first 64 KiB).
    public var maxRatio: Int

    public init(maxSize: Int = 16 << 20, maxRatio: Int = 100) {
        self.maxSize = maxSize
        self.maxRatio = maxRatio
    }

    /// Replaces the request's body with its decompressed bytes if it is encoded.
    func decode(_ request: Request) throws {
        guard let header = request.headers.first(name: "content-encoding")?.trimmingCharacters(in: .whitespaces).lowercased(),
            header != "identity", !header.isEmpty
        else { return }
        let coding: ContentCoding
        switch header {
        case "gzip", "x-gzip": coding = .gzip
        case "deflate": coding = .deflate
        default:
            throw HTTPError(
                .unsupportedMediaType,
                "Content-Encoding \(header) is not supported; send gzip, deflate or identity.",
                headers: ["accept-encoding": "gzip, deflate"]
            )
        }
        request.replaceBodyStream(with: RequestBody(InflatingSequence(source: request.bodyStream, coding: coding, limits: self)))
    }
}

extension App {
    /// Decompresses request bodies (see `RequestDecompression`).
    @discardableResult
    public func requestDecompression(_ settings: RequestDecompression = RequestDecompression()) -> Self {
        self.beforeBody { request in try settings.decode(request) }
        return self
    }
}

/// The decompressed chunks of a compressed body.
struct InflatingSequence: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let source: RequestBody
    let coding: ContentCoding
    let limits: RequestDecompression

    struct AsyncIterator: AsyncIteratorProtocol {
        var source: RequestBody.AsyncIterator
        let inflater: ZlibDecompressor
        let limits: RequestDecompression
        var compressed = 0
        var inflated = 0

        mutating func next() async throws -> ByteBuffer? {
            while var chunk = try await self.source.next() {
                self.compressed += chunk.readableBytes
                var output = ByteBuffer()
                while chunk.readableBytes > 0 {
                    output.reserveCapacity(output.writerIndex + 64 * 1024)
                    do {
                        try self.inflater.inflate(from: &chunk, to: &output)
                        break
                    } catch let error as CompressNIOError where error == .bufferOverflow {
                        try self.check(output.readableBytes)
                    } catch let error as CompressNIOError where error == .inputBufferOverflow {
                        break  // all of this chunk taken; the stream goes on in the next
                    } catch {
                        throw HTTPError(.badRequest, "The request body is not valid \(self.coding): it does not decompress.")
                    }
                }
                try self.check(output.readableBytes)
                self.inflated += output.readableBytes
                if output.readableBytes > 0 { return output }
            }
            return nil
        }

        private var coding: String { "compressed data" }

        /// 413 past the size or the ratio, counting `pending` bytes not yet added.
        private func check(_ pending: Int) throws {
            let total = self.inflated + pending
            if total > self.limits.maxSize {
                throw HTTPError(
                    .payloadTooLarge,
                    "The decompressed request body is larger than \(self.limits.maxSize) bytes (limit maxSize).",
                    headers: ["connection": "close"]
                )
            }
            if total > 64 * 1024 && total > self.compressed * self.limits.maxRatio {
                throw HTTPError(
                    .payloadTooLarge,
                    "The request body decompresses to more than \(self.limits.maxRatio) times its size (limit maxRatio): refused as a decompression bomb.",
                    headers: ["connection": "close"]
                )
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(
            source: self.source.makeAsyncIterator(),
            inflater: try! ZlibDecompressor(algorithm: self.coding.algorithm),
            limits: self.limits
        )
    }
}
