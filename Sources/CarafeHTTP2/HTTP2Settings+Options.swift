import CarafeCore
import NIOCore

extension HTTP2Settings {
    /// The largest flow-control window and SETTINGS value HTTP/2 allows (RFC 9113, 6.5.2).
    static let maxSettingValue = (1 << 31) - 1

    /// These settings with the limits `serve` was given (`--http2-*`, or `CARAFE_HTTP2_*`)
    /// put over them; a value out of range is an error naming the flag, the value and the
    /// range, so that the start stops instead of advertising a SETTINGS frame clients refuse.
    public func applying(_ options: HTTP2LimitOptions) throws -> HTTP2Settings {
        var settings = self
        func checked(_ value: Int?, _ flag: String, _ range: ClosedRange<Int>, _ what: String) throws -> Int? {
            guard let value else { return nil }
            guard range.contains(value) else {
                throw ServeProtocolError("--\(flag) \(value) is out of range: \(what) must be \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        if let streams = try checked(
            options.maxConcurrentStreams,
            "http2-max-concurrent-streams",
            1...Self.maxSettingValue,
            "streams open at once"
        ) {
            settings.maxConcurrentStreams = streams
        }
        if let size = try checked(
            options.maxHeaderListSize,
            "http2-max-header-list-size",
            1024...Self.maxSettingValue,
            "the header list's bytes"
        ) {
            settings.maxHeaderListSize = size
        }
        // Below 1024 bytes a request body crawls in tiny DATA frames and WINDOW_UPDATEs.
        if let window = try checked(
            options.initialWindowSize,
            "http2-initial-window-size",
            1024...Self.maxSettingValue,
            "the window's bytes"
        ) {
            settings.windowSize = window
        }
        if let seconds = try checked(options.idleTimeout, "http2-idle-timeout", 0...(365 * 24 * 3600), "seconds (0: never)") {
            settings.idleTimeout = .seconds(Int64(seconds))
        }
        if let resets = try checked(options.maxResets, "http2-max-resets", 1...1_000_000, "resets per window") {
            settings.maxResetStreams = resets
        }
        return settings
    }
}
