import Foundation

/// What `Tests/Clients/websocket_interop.py` (Python's `websockets` against an echo route)
/// reports: each exchange's outcome, for the tests to assert on.
public struct WebSocketInterop: Decodable, Sendable {
    public let text: String
    public let binary: Bool
    public let fragmented: String
    public let pong: Bool
    /// The length echoed for a message of exactly the route's limit.
    public let atLimit: Int
    public let closeCode: Int
    /// The close code for a message one byte over the limit.
    public let tooBig: Int?
    public let plainGet: Int
    public let plainGetUpgrade: String?

    /// Runs the client against `url`, whose route takes messages of up to `limit` bytes.
    public static func run(_ url: String, limit: Int = 1 << 20) throws -> (result: WebSocketInterop, printed: String) {
        let printed = try runClientScript("websocket_interop.py", [url, String(limit)])
        return (try JSONDecoder().decode(WebSocketInterop.self, from: Data(printed.utf8)), printed)
    }
}
