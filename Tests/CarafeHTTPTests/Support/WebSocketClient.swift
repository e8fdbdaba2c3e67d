import Foundation

/// One frame as a WebSocket client sends or receives it.
struct RawFrame: Equatable, Sendable {
    var fin = true
    var opcode: UInt8
    var payload: [UInt8]

    static func text(_ text: String, fin: Bool = true) -> RawFrame { RawFrame(fin: fin, opcode: 0x1, payload: Array(text.utf8)) }
    static func binary(_ bytes: [UInt8], fin: Bool = true) -> RawFrame { RawFrame(fin: fin, opcode: 0x2, payload: bytes) }
    static func continuation(_ text: String, fin: Bool) -> RawFrame { RawFrame(fin: fin, opcode: 0x0, payload: Array(text.utf8)) }
    static func close(_ code: UInt16, _ reason: String = "") -> RawFrame {
        RawFrame(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
    }
    static func ping(_ text: String) -> RawFrame { RawFrame(opcode: 0x9, payload: Array(text.utf8)) }

    var text: String { String(decoding: self.payload, as: UTF8.self) }
    /// The code of a close frame.
    var closeCode: UInt16? {
        self.opcode == 0x8 && self.payload.count >= 2 ? UInt16(self.payload[0]) << 8 | UInt16(self.payload[1]) : nil
    }

    /// The frame on the wire; masked as a client must, unless `masked` is false.
    func encoded(masked: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [(self.fin ? 0x80 : 0) | self.opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        switch self.payload.count {
        case ..<126: bytes.append(maskBit | UInt8(self.payload.count))
        case ..<65536: bytes += [maskBit | 126, UInt8(self.payload.count >> 8), UInt8(self.payload.count & 0xFF)]
        default: bytes += [maskBit | 127] + (0..<8).reversed().map { UInt8((self.payload.count >> ($0 * 8)) & 0xFF) }
        }
        guard masked else { return bytes + self.payload }
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        return bytes + key + self.payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    }
}

/// The opening handshake of RFC 6455's example (its key and the accept value it expects).
let webSocketHandshake = """
    GET /ws HTTP/1.1\r
    Host: localhost\r
    Upgrade: websocket\r
    Connection: Upgrade\r
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
    Sec-WebSocket-Version: 13\r
    \r

    """
let webSocketAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

extension RawHTTPConnection {
    /// Sends the opening handshake and reads the `101`.
    func openWebSocket(path: String = "/ws") async throws -> RawHTTPResponse {
        try await self.send(webSocketHandshake.replacingOccurrences(of: "GET /ws ", with: "GET \(path) "))
        return try await self.readResponse(bodyless: true)
    }

    func send(_ frame: RawFrame, masked: Bool = true) async throws {
        try await self.send(frame.encoded(masked: masked))
    }

    /// Reads one frame from the server (unmasked, as servers send them).
    func readFrame() async throws -> RawFrame {
        try await offload {
            try self.fill(atLeast: 2, what: "a frame header")
            let header = self.take(2)
            var length = Int(header[1] & 0x7F)
            if length == 126 {
                try self.fill(atLeast: 2, what: "a frame length")
                length = self.take(2).reduce(0) { $0 << 8 | Int($1) }
            } else if length == 127 {
                try self.fill(atLeast: 8, what: "a frame length")
                length = self.take(8).reduce(0) { $0 << 8 | Int($1) }
            }
            try self.fill(atLeast: length, what: "a frame payload of \(length) bytes")
            return RawFrame(fin: header[0] & 0x80 != 0, opcode: header[0] & 0x0F, payload: self.take(length))
        }
    }

    /// Reads frames until a close frame, skipping pings; returns it.
    func readClose() async throws -> RawFrame {
        while true {
            let frame = try await self.readFrame()
            if frame.opcode == 0x8 { return frame }
        }
    }
}
