/// A request's id, `X-Request-Id`: kept from a trusted peer (`App.forwardedAllowIPs`, a proxy
/// that sets one) when it is well-formed, at most 128 characters of `A-Z a-z 0-9 - _ . : + = / @`;
/// otherwise made here, 32 hex digits. It is echoed on the response, in `req.logger`'s metadata
/// (`request_id`), in the access log (`%({x-request-id}o)s`, and the JSON format) and, through
/// `RequestID.current`, in the database's query logs.
public enum RequestID {
    /// The id of the request whose handler is running (a task-local value), for code that has
    /// no `Request` at hand: a database driver's logger.
    @TaskLocal public static var current: String?

    /// The longest id kept from a peer.
    public static let maxLength = 128

    /// `header` if it is a well-formed id, else nil.
    public static func valid(_ header: String?) -> String? {
        guard let header, !header.isEmpty, header.utf8.count <= Self.maxLength else { return nil }
        for byte in header.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "+"), UInt8(ascii: "="),
                UInt8(ascii: "/"), UInt8(ascii: "@"):
                continue
            default: return nil
            }
        }
        return header
    }

    /// A new id: 128 random bits in hex.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var bytes = [UInt8](repeating: 0, count: 32)
        for half in 0..<2 {
            var value = generator.next()
            for index in 0..<16 {
                bytes[half * 16 + index] = digits[Int(value & 0xF)]
                value >>= 4
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
