import CarafeCore
import CompressNIO

/// One deflate stream (gzip or zlib format) through compress-nio's zlib binding.
final class Deflater {
    private let compressor: ZlibCompressor

    init(_ coding: ContentCoding, level: Int) throws {
        var configuration = ZlibConfiguration()
        configuration.compressionLevel = Int32(max(1, min(9, level)))
        self.compressor = try ZlibCompressor(algorithm: coding.algorithm, configuration: configuration)
    }

    /// Compresses `input` (all of it) and flushes: with `.sync`, what is written so far can be
    /// decompressed at once; with `.finish`, the stream ends.
    func compress(_ input: inout ByteBuffer, flush: CompressNIOFlush) throws -> ByteBuffer {
        var output = ByteBuffer()
        output.reserveCapacity(max(256, input.readableBytes / 2 + 64))
        while true {
            if output.writableBytes < 64 { output.reserveCapacity(output.capacity * 2) }
            let before = output.readableBytes
            do {
                try self.compressor.deflate(from: &input, to: &output, flush: flush)
                // zlib stops once the output is full: keep going until the input is gone and the
                // flush is complete (some room left over).
                if input.readableBytes == 0 && output.writableBytes > 0 { return output }
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // Z_BUF_ERROR with no progress: a sync flush that had nothing left to write.
                if flush != .finish && input.readableBytes == 0 && output.readableBytes == before { return output }
            }
        }
    }

    /// All of `input` as one complete stream.
    func compressAll(_ input: inout ByteBuffer) throws -> ByteBuffer {
        var copy = input
        return try self.compress(&copy, flush: .finish)
    }
}

/// Compresses each chunk a streamed body writes, with a sync flush, and passes it on.
final class CompressingBodyWriter: ResponseBodyWriter, @unchecked Sendable {
    private let next: any ResponseBodyWriter
    private let deflater: Deflater
    /// An empty stored deflate block: valid between sync-flushed blocks, decompresses to
    /// nothing; the heartbeat a compressed stream sends instead of its plain one.
    static let emptyBlock = ByteBuffer(bytes: [0x00, 0x00, 0x00, 0xFF, 0xFF])

    init(_ next: any ResponseBodyWriter, _ coding: ContentCoding, level: Int) throws {
        self.next = next
        self.deflater = try Deflater(coding, level: level)
    }

    /// Writes the stream's header, so that a heartbeat may follow at once.
    func start() async throws {
        var empty = ByteBuffer()
        try await self.next.write(try self.deflater.compress(&empty, flush: .sync))
    }

    func write(_ chunk: ByteBuffer) async throws {
        var chunk = chunk
        guard chunk.readableBytes > 0 else { return }
        try await self.next.write(try self.deflater.compress(&chunk, flush: .sync))
    }

    func finish() async throws {
        var empty = ByteBuffer()
        try await self.next.write(try self.deflater.compress(&empty, flush: .finish))
    }

    func keepAlive(every interval: Duration, with chunk: ByteBuffer) {
        self.next.keepAlive(every: interval, with: Self.emptyBlock)
    }

    /// They follow the compressed body, uncompressed (trailers are fields, not content).
    func writeTrailers(_ trailers: HTTPHeaders) async throws {
        try await self.next.writeTrailers(trailers)
    }
}
