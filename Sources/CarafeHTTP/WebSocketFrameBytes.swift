import NIOCore
import NIOWebSocket

/// Frames from the server as bytes on the wire (RFC 6455 5.2): final, never masked (only a
/// client masks), no extension bits (no extension is negotiated). What `WebSocketHandler`
/// writes, and what a `BroadcastHub` sends to relayed sessions, encoded once for all of them.
///
/// NIO's `WebSocketFrameEncoder` does the same as a handler of its own; writing the header here
/// saves every session that handler, its context and its header buffer (about 400 bytes of an
/// idle session), and each frame a hop through the pipeline.
public enum WebSocketFrameBytes {
    /// A text message as one frame, header and payload in one buffer.
    public static func text(_ text: String, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        let count = text.utf8.count
        var frame = allocator.buffer(capacity: self.headerSize(count) + count)
        self.writeHeader(opcode: .text, length: count, into: &frame)
        frame.writeString(text)
        return frame
    }

    /// The header of a frame of `opcode` with `length` payload bytes.
    static func writeHeader(opcode: WebSocketOpcode, length: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(0x80 | UInt8(webSocketOpcode: opcode))  // FIN
        switch length {
        case ..<126:
            buffer.writeInteger(UInt8(length))
        case ..<65536:
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        default:
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
    }

    static func headerSize(_ length: Int) -> Int {
        length < 126 ? 2 : length < 65536 ? 4 : 10
    }
}
