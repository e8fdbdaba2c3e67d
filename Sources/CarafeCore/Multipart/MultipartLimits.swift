/// The limits on a `multipart/form-data` body, each past which the request is refused with
/// `413 Content Too Large` naming the limit. The defaults are Werkzeug's where it has one.
public struct MultipartLimits: Sendable, Hashable {
    /// At most this many parts (Werkzeug's `max_form_parts`: 1,000).
    public var maxParts: Int
    /// At most this many bytes of headers per part (Werkzeug: 8 KiB).
    public var maxPartHeaderSize: Int
    /// At most this many bytes in one field that is not a file (Werkzeug's
    /// `max_form_memory_size`: 500 KB; here 512 KiB). Files have no limit of their own.
    public var maxFieldSize: Int
    /// At most this many bytes in the whole body; nil: the app's `maxBodySize` on routes that
    /// collect the form, none on routes that stream it (`MultipartReader`) unless given.
    public var maxTotalSize: Int?
    /// Files larger than this are written to a temporary file as they arrive rather than kept
    /// in memory (Werkzeug: 500 KB); such files are removed when the request ends.
    public var spoolThreshold: Int
    /// Where temporary files go; nil: the system's (`$TMPDIR`, else `/tmp`).
    public var temporaryDirectory: String?

    public init(
        maxParts: Int = 1000,
        maxPartHeaderSize: Int = 8 * 1024,
        maxFieldSize: Int = 512 * 1024,
        maxTotalSize: Int? = nil,
        spoolThreshold: Int = 500 * 1024,
        temporaryDirectory: String? = nil
    ) {
        self.maxParts = maxParts
        self.maxPartHeaderSize = maxPartHeaderSize
        self.maxFieldSize = maxFieldSize
        self.maxTotalSize = maxTotalSize
        self.spoolThreshold = spoolThreshold
        self.temporaryDirectory = temporaryDirectory
    }
}
