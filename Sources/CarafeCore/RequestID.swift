import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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
    ///
    /// The bits come from the system's generator, fetched 4 KiB at a time (`RandomBytePool`):
    /// one `getrandom` per 256 requests instead of two per request.
    public static func make() -> String {
        let (high, low) = RandomBytePool.shared.next128()
        return String(unsafeUninitializedCapacity: 32) { buffer in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { digits in
                var high = high
                var low = low
                for index in 0..<16 {
                    buffer[index] = digits[Int(high & 0xF)]
                    buffer[16 + index] = digits[Int(low & 0xF)]
                    high >>= 4
                    low >>= 4
                }
            }
            return 32
        }
    }
}

/// Random bits from `SystemRandomNumberGenerator`, taken in blocks so that a caller on the hot
/// path (a request id per request) does not pay a system call each time. The bits are the
/// system generator's, unchanged; only how many are asked for at once differs.
final class RandomBytePool: Sendable {
    static let shared = RandomBytePool()

    /// Set in a child process after `fork()`: the block it inherited is its parent's too, and
    /// must not be used (two workers would make the same ids).
    private static let forked = Atomic<Bool>(false)

    private init() {
        #if canImport(Glibc)
        pthread_atfork(nil, nil) { RandomBytePool.forked.store(true, ordering: .relaxed) }
        #endif
    }

    private struct Block {
        var words = [UInt64](repeating: 0, count: 512)
        var next = 512
    }
    private let block = Mutex(Block())

    /// 128 fresh random bits.
    func next128() -> (UInt64, UInt64) {
        self.block.withLock { block in
            if Self.forked.load(ordering: .relaxed) {
                Self.forked.store(false, ordering: .relaxed)
                block.next = block.words.count
            }
            if block.next + 2 > block.words.count {
                block.words.withUnsafeMutableBytes { bytes in
                    var generator = SystemRandomNumberGenerator()
                    Self.fill(bytes, from: &generator)
                }
                block.next = 0
            }
            defer { block.next += 2 }
            return (block.words[block.next], block.words[block.next + 1])
        }
    }

    private static func fill(_ bytes: UnsafeMutableRawBufferPointer, from generator: inout SystemRandomNumberGenerator) {
        #if canImport(Glibc)
        // The whole block in one request to the system's CSPRNG (glibc: `getrandom`).
        arc4random_buf(bytes.baseAddress!, bytes.count)
        #else
        for index in 0..<(bytes.count / 8) {
            bytes.storeBytes(of: generator.next(), toByteOffset: index * 8, as: UInt64.self)
        }
        #endif
    }
}
