/// One Server-Sent Event, as the `text/event-stream` format writes it.
public struct ServerSentEvent: Sendable, Hashable {
    /// The payload; a multi-line text goes out as one `data:` line per line (split at CR, LF or
    /// CRLF), and the browser joins them again with `\n`.
    public var data: String
    /// The event's type (`event:`); nil is the default `message`.
    public var event: String?
    /// The id the browser sends back as `Last-Event-ID` when it reconnects.
    public var id: String?
    /// How long the browser waits before reconnecting, in milliseconds (`retry:`).
    public var retry: Int?

    public init(data: String, event: String? = nil, id: String? = nil, retry: Int? = nil) {
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
    }

    /// The event in wire format, ending with the blank line that dispatches it. Line breaks in
    /// `event` and `id` would break the format, so they are dropped.
    public var encoded: String {
        var text = ""
        if let event = self.event { text += "event: \(Self.singleLine(event))\n" }
        if let id = self.id { text += "id: \(Self.singleLine(id))\n" }
        if let retry = self.retry { text += "retry: \(retry)\n" }
        for line in Self.lines(of: self.data) { text += "data: \(line)\n" }
        return text + "\n"
    }

    /// `text` split at CR, LF and CRLF, empty lines kept.
    static func lines(of text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
    }

    private static func singleLine(_ text: String) -> String {
        String(text.filter { $0 != "\n" && $0 != "\r" && $0 != "\r\n" })
    }
}
