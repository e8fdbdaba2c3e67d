import Foundation
import ProcessTestSupport
import Testing

/// `hello`'s `/ws` echo and the `chat` example, with real clients: Python's `websockets`
/// package, and headless Chromium running the chat page's script.
@Suite struct WebSocketClientTests {
    @Test func pythonsWebsocketsClientInteroperatesWithTheEchoRoute() throws {
        let server = try ServerProcess(builtExecutable("hello"), ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"])
        let (result, _) = try WebSocketInterop.run("ws://127.0.0.1:\(server.port)/ws", limit: 16 << 20)  // hello's limit, as the peers'

        #expect(result.text == "héllo")
        #expect(result.binary)
        #expect(result.fragmented == "fragmented")
        #expect(result.pong)
        #expect(result.atLimit == 16 << 20)
        #expect(result.closeCode == 4001)  // our close code, echoed
        #expect(result.tooBig == 1009)
        #expect(result.plainGet == 426)
        #expect(result.plainGetUpgrade == "websocket")
    }

    struct Relay: Decodable {
        let alice: String
        let bob: String
        let queued: Int
        let bobLong: Int
        let aliceLong: Int
        let pong: Bool
        let aliceClose: Int
        let queuedAfterAliceLeft: Int
        let bobAfter: String
    }

    @Test func clientsOfARelayedRoomHearEachOtherAndThePublisher() throws {
        let server = try ServerProcess(builtExecutable("hello"), ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"])
        let printed = try runClientScript("websocket_relay.py", ["http://127.0.0.1:\(server.port)"])
        let relay = try JSONDecoder().decode(Relay.self, from: Data(printed.utf8))
        #expect(relay.alice == "hello from alice" && relay.bob == "hello from alice", "\(printed)")
        #expect(relay.queued == 2)
        #expect(relay.bobLong == 65536 && relay.aliceLong == 65536)
        #expect(relay.pong)
        #expect(relay.aliceClose == 4001)
        #expect(relay.queuedAfterAliceLeft == 1)
        #expect(relay.bobAfter == "after")
    }

    struct ChatPages: Decodable {
        let aliceReady: Bool
        let bobReady: Bool
        let alice_websocket: [String]
        let alice_eventsource: [String]
        let bob_websocket: [String]
        let bob_eventsource: [String]
        let bobBoldElements: Int
    }

    @Test func twoBrowserTabsChatOverWebSocketAndEventSource() throws {
        let server = try ServerProcess(builtExecutable("chat"), ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"])
        let printed = try runClientScript("chat_browser.py", ["http://127.0.0.1:\(server.port)"])
        let pages = try JSONDecoder().decode(ChatPages.self, from: Data(printed.utf8))
        #expect(pages.aliceReady && pages.bobReady, "\(printed)")
        let said = "alice: hello from <b>alice</b>"
        #expect(pages.bob_websocket == ["* joined as bob", said])
        #expect(pages.bob_eventsource == [said])
        #expect(pages.alice_websocket == ["* joined as alice", said])
        #expect(pages.alice_eventsource == [said])
        #expect(pages.bobBoldElements == 0)
    }

    @Test func chatAnswersBadInputWithAClearError() throws {
        let server = try ServerProcess(builtExecutable("chat"), ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"])
        let base = "http://127.0.0.1:\(server.port)"
        let empty = try curl(["-s", "-w", " %{http_code}", "--data", "name=bob&text=", base + "/messages"])
        #expect(empty == "400 Bad Request: A message must have 1 to 4096 bytes.\n 400")
        let noText = try curl(["-s", "-w", " %{http_code}", "--data", "name=bob", base + "/messages"])
        #expect(noText.hasSuffix(" 400") && noText.contains("text"), "\(noText)")
        // A long-poll with nothing said answers 204 when its wait is over.
        #expect(try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/poll?wait=1"]) == "204")
    }
}
