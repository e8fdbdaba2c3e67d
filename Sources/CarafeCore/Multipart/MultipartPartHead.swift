import CarafeHTTP

/// The headers of one part of a `multipart/form-data` body, and what they say.
public struct MultipartPartHead: Sendable, Equatable {
    /// The form field's name (`Content-Disposition: form-data; name="avatar"`).
    public var name: String
    /// The file name as the client sent it (`filename*=UTF-8''…` decoded, RFC 5987, when
    /// present; else `filename=`), or nil for a field that is not a file. Never use it as a
    /// path: see `secureFilename(_:)`.
    public var filename: String?
    /// The part's `Content-Type`, or nil if it sent none.
    public var contentType: String?
    /// All of the part's headers.
    public var headers: HTTPHeaders
    /// Its position in the body, from 1.
    public var index: Int

    public init(name: String, filename: String? = nil, contentType: String? = nil, headers: HTTPHeaders = [:], index: Int = 1) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.headers = headers
        self.index = index
    }

    /// RFC 9110's `tchar`: what a header name is made of.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }

    /// Whether the part is a file (it has a file name, even an empty one).
    public var isFile: Bool { self.filename != nil }

    /// Parses a header block (`Name: value` lines, each ending in CRLF).
    init(headerBlock: ByteBuffer, index: Int) throws {
        var headers = HTTPHeaders()
        let text = String(decoding: headerBlock.readableBytesView, as: UTF8.self)
        for line in text.split(separator: "\r\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":"), colon > line.startIndex else {
                throw MultipartError.malformed("a header line of part \(index) has no name and colon")
            }
            let name = line[..<colon].trimmingSpaces
            guard !name.contains(where: { $0 == " " || $0 == "\t" }) else {
                throw MultipartError.malformed("a header name of part \(index) has white space")
            }
            // RFC 9110 token characters only: NIO's `HTTPHeaders` traps on a name that is not
            // ASCII (found by the Multipart fuzz target: it crashed the process).
            guard name.utf8.allSatisfy(Self.isTokenByte) else {
                throw MultipartError.malformed("a header name of part \(index) has a character that is not allowed in a header name")
            }
            headers.add(name: String(name), value: String(line[line.index(after: colon)...].trimmingSpaces))
        }
        guard let disposition = headers.first(name: "content-disposition").flatMap(MediaType.init),
            disposition.type == "form-data", let name = disposition.parameters["name"]
        else {
            throw MultipartError.missingName(part: index)
        }
        let filename = disposition.parameters["filename*"].flatMap(Self.decodeExtendedValue) ?? disposition.parameters["filename"]
        self.init(name: name, filename: filename, contentType: headers.first(name: "content-type"), headers: headers, index: index)
    }

    /// RFC 5987 / 8187 `charset'language'percent-encoded`: UTF-8 (and ISO-8859-1) decoded; nil otherwise.
    static func decodeExtendedValue(_ value: String) -> String? {
        let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard pieces.count == 3 else { return nil }
        let charset = pieces[0].lowercased()
        var bytes: [UInt8] = []
        var input = pieces[2].utf8.makeIterator()
        while let byte = input.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = input.next().flatMap(hexValue), let low = input.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        switch charset {
        case "utf-8": return String(validating: bytes, as: UTF8.self)
        case "iso-8859-1": return String(decoding: bytes.map { UInt16($0) }, as: UTF16.self)
        default: return nil
        }
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
