import CarafeTesting
import NIOHTTP1
import Testing

@testable import CarafeCore

/// Streamed bodies at the framework level, through the test client.
@Suite struct StreamingBodyTests {
    @Test func aStreamedResponseArrivesWholeWithItsLength() async {
        let app = App()
        app.get("/count") { _ in
            Response.stream(contentType: "text/plain", length: 9) { writer in
                for word in ["one", "two", "six"] { try await writer.write(ByteBuffer(string: word)) }
            }
        }
        let response = await app.test.get("/count")
        #expect(response.status == .ok)
        #expect(response.text == "onetwosix")
        #expect(response.headers["content-type"] == ["text/plain"])
    }

    @Test func aStreamingRouteReadsItsBodyChunkByChunkWithoutTheLimit() async {
        let app = App()
        app.maxBodySize = 4
        app.post("/upload", body: .stream) { req in
            var total = 0
            for try await chunk in req.bodyStream { total += chunk.readableBytes }
            return "\(total) \(req.body.readableBytes)"
        }
        let response = await app.test.post("/upload", String(repeating: "z", count: 1000))
        #expect(response.status == .ok)
        // 1000 bytes streamed past a 4-byte limit; nothing collected into `body`.
        #expect(response.text == "1000 0")
    }

    @Test func aCollectingRouteSeesTheBodyInBothForms() async {
        let app = App()
        app.post("/echo") { req in
            var streamed = ""
            for try await chunk in req.bodyStream { streamed += String(buffer: chunk) }
            return "\(req.bodyText)|\(streamed)"
        }
        #expect(await app.test.post("/echo", "hello").text == "hello|hello")
    }

    @Test func aStreamedBodyCanBeReadOnce() async {
        let app = App()
        app.post("/twice", body: .stream) { req in
            _ = try await req.bodyStream.collect(upTo: 100)
            do {
                _ = try await req.bodyStream.collect(upTo: 100)
                return "read twice"
            } catch let error as HTTPBodyError {
                return "\(error)"
            }
        }
        // The test client's body is in memory, so this checks the in-memory form stays readable;
        // over a socket the second read throws `alreadyConsumed` (see the server's tests).
        #expect(await app.test.post("/twice", "abc").text == "read twice")
    }

    @Test func aCollectedBodyOverTheLimitIs413AndClosesTheConnection() async {
        let app = App()
        app.maxBodySize = 8
        let calls = TestRecorder()
        app.post("/small") { _ in
            calls.record("handler")
            return "ok"
        }
        let response = await app.test.post("/small", "123456789")
        #expect(response.status == .payloadTooLarge)
        #expect(response.text == "413 Payload Too Large: Request body is larger than the limit of 8 bytes.\n")
        #expect(response.headers["connection"] == ["close"])
        #expect(calls.all.isEmpty)
    }
}
