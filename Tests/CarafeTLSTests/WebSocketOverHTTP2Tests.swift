import Foundation
import ProcessTestSupport
import Testing

/// WebSockets over HTTP/2 (RFC 8441) on `hello`, over TLS (ALPN h2) and h2c, from Python's
/// `h2` and `wsproto` (Tests/Clients/websocket_h2.py): several sessions and plain requests on
/// one connection, flow control both ways, the relayed room, the close, the refusals, a drain.
@Suite(.serialized) struct WebSocketOverHTTP2Tests {
    struct Echo: Decodable, Equatable {
        var text: String?
        var bytes: Int?
        var close: Int?
        var reason: String?
    }

    struct Sessions: Decodable {
        let enableConnectProtocol: Int?
        let echoStatus: String
        let echoAccept: Bool
        let roomStatus: String
        let plaintext: String
        let echo: [Echo]
        let queued: String
        let room: [Echo]
        let echoClose: [Echo]
        let echoEnded: Bool
        let echoReset: Int?
        let roomAfter: [Echo]
        let goaway: Int?
    }

    struct Refusals: Decodable {
        let plainRoute: [String?]
        let plainGet: [String?]
        let version8: [String?]
        let otherProtocol: String?
        let unmasked: [Echo]
        let unmaskedEnded: Bool
        let after: String
    }

    /// `hello` over TLS or h2c with an access log; the server, the log's path and the client's arguments.
    static func start(overTLS: Bool) throws -> (ServerProcess, String, [String]) {
        let certificate = try TLSTests.Certificate()
        let log = certificate.directory.appendingPathComponent("access.log").path
        let server = try TLSTests.startServer(
            (overTLS ? ["--certfile", certificate.cert, "--keyfile", certificate.key] : ["--h2c"])
                + ["--bind", "127.0.0.1:0", "--access-logfile", log]
        )
        return (server, log, [String(server.port), overTLS ? "tls" : "plain", certificate.cert])
    }

    /// Waits until no connection of the server on `port` is left in CLOSE-WAIT (by `ss`).
    static func noneInCloseWait(port: Int) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        repeat {
            let sockets = try? runProcess("/usr/bin/env", ["ss", "-Htn", "state", "close-wait", "( sport = :\(port) )"]).output
            if sockets?.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty == true { return true }
            usleep(50_000)
        } while Date() < deadline
        return false
    }

    /// Waits until the access log has a line containing `text`.
    static func logged(_ text: String, in log: String) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        repeat {
            if let lines = try? String(contentsOfFile: log, encoding: .utf8), lines.contains(text) { return true }
            usleep(20_000)
        } while Date() < deadline
        return false
    }

    @Test(arguments: [true, false]) func sessionsShareAConnectionWithRequestsAndCloseByEndingTheirStream(overTLS: Bool) throws {
        let (server, log, arguments) = try Self.start(overTLS: overTLS)
        let printed = try runClientScript("websocket_h2.py", ["sessions"] + arguments)
        let result = try JSONDecoder().decode(Sessions.self, from: Data(printed.utf8))
        // Advertised in SETTINGS; accepted with 200 and no Sec-WebSocket-Accept (no key in h2).
        #expect(result.enableConnectProtocol == 1, "\(printed)")
        #expect(result.echoStatus == "200" && result.roomStatus == "200")
        #expect(!result.echoAccept)
        #expect(result.plaintext == "Hello, World!")
        // 300,000 characters back: more than the 64 KiB windows both ways.
        #expect(result.echo == [Echo(text: "hello over h2"), Echo(bytes: 1024), Echo(text: "300000 characters")], "\(printed)")
        // The room hears a POST /publish on another stream of the same connection, and itself.
        #expect(result.queued == "1")
        #expect(result.room == [Echo(text: "published to h2"), Echo(text: "said in the room")])
        // The client's close is answered, then the server ends the stream (END_STREAM, no reset).
        #expect(result.echoClose == [Echo(close: 4001, reason: "")], "\(printed)")
        #expect(result.echoEnded)
        #expect(result.echoReset == nil)
        #expect(result.roomAfter == [Echo(text: "after the echo left")])
        #expect(result.goaway == nil)
        // In the access log as the GET that opens a WebSocket over HTTP/1.1, with the 200 sent.
        #expect(Self.logged(#""GET /ws HTTP/2.0" 200 -"#, in: log))
        #expect(Self.logged(#""GET /ws-relay HTTP/2.0" 200"#, in: log))
        // The client has gone (its FIN): the server closed the connection and the room's stream
        // with it, rather than leave the socket in CLOSE-WAIT until a write failed.
        #expect(Self.noneInCloseWait(port: server.port))
        #expect(server.process.isRunning)
    }

    @Test(arguments: [true, false]) func whatIsNotAnOpeningRequestIsRefusedAndTheConnectionServesOn(overTLS: Bool) throws {
        let (server, log, arguments) = try Self.start(overTLS: overTLS)
        let printed = try runClientScript("websocket_h2.py", ["refusals"] + arguments)
        let result = try JSONDecoder().decode(Refusals.self, from: Data(printed.utf8))
        // A route that does not speak WebSocket: not a 2xx, which would tell the client it is open.
        #expect(result.plainRoute == ["400", "400 Bad Request: /plaintext does not accept a WebSocket (an extended CONNECT).\n"])
        #expect(result.plainGet.first == "400")
        #expect(result.plainGet.last??.contains("extended CONNECT (RFC 8441") == true, "\(printed)")
        #expect(result.version8 == ["426", "13"])
        #expect(result.otherProtocol == "405")
        #expect(result.unmasked == [Echo(close: 1002, reason: "unmasked frame from the client")], "\(printed)")
        #expect(result.unmaskedEnded)
        #expect(result.after == "Hello, World!")
        // The access log has the status sent, not the route's 200.
        #expect(Self.logged(#""GET /plaintext HTTP/2.0" 400"#, in: log))
        #expect(server.process.isRunning)
    }

    @Test func aDrainClosesTheSessionWith1001AndTheServerStops() async throws {
        let (server, _, arguments) = try Self.start(overTLS: false)
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-h2ws-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: ready) }
        let client = Task.detached { try runClientScript("websocket_h2.py", ["drain"] + arguments + [ready]) }
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: ready), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(FileManager.default.fileExists(atPath: ready))
        kill(server.pid, SIGTERM)
        let printed = try await client.value
        #expect(printed.contains(#""close": [{"close": 1001, "reason": "server shutting down"}]"#), "\(printed)")
        #expect(printed.contains(#""ended": true"#))
        #expect(printed.contains(#""goaway": 0"#))
        #expect(server.waitForExit(timeout: 10))
        #expect(server.process.terminationStatus == 0)
    }
}
