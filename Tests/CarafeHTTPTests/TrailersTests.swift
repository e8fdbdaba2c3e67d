import Carafe
import CarafeTesting
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// `RequestTrailers` (waiting for the body's end, failing when it never comes) and the fields a
/// response may not send as trailers, without sockets; `HelloTrailerTests` covers the wire.
@Suite struct TrailersTests {
    @Test func trailersWaitForTheBodysEndAndThenAreKnown() async throws {
        let trailers = RequestTrailers.pending()
        #expect(trailers.isPending)
        #expect(trailers.received == nil)
        let waiting = Task { try await trailers.value() }
        try await Task.sleep(for: .milliseconds(20))
        trailers.receive(["grpc-status": "0"])
        #expect(try await waiting.value.first(name: "grpc-status") == "0")
        #expect(trailers.received?.first(name: "grpc-status") == "0")
        // Settled once: a later end changes nothing.
        trailers.receive(["grpc-status": "13"])
        #expect(try await trailers.value().first(name: "grpc-status") == "0")
        // None sent: empty.
        let none = RequestTrailers.pending()
        none.receive(nil)
        #expect(try await none.value().isEmpty)
    }

    @Test func trailersOfABodyThatNeverEndedThrow() async throws {
        let trailers = RequestTrailers.pending()
        let waiting = Task { try await trailers.value() }
        try await Task.sleep(for: .milliseconds(20))
        trailers.fail(HTTPBodyError.connectionClosed)
        await #expect(throws: HTTPBodyError.connectionClosed) { try await waiting.value }
        await #expect(throws: HTTPBodyError.connectionClosed) { try await trailers.value() }
    }

    @Test func fieldsThatMayNotBeTrailersAreRefusedByName() throws {
        try ResponseTrailersError.check(["x-checksum": "abc", "grpc-status": "0", "grpc-message": "ok"])
        for name in ["Content-Length", "transfer-encoding", "host", "connection", "authorization", "set-cookie", "trailer"] {
            #expect(throws: ResponseTrailersError.self) { try ResponseTrailersError.check([name: "1"]) }
        }
        #expect {
            try ResponseTrailersError.check(["x-a b": "1"])
        } throws: { ($0 as? ResponseTrailersError)?.description == "'x-a b' is not a valid trailer field name." }
        #expect {
            try ResponseTrailersError.check(["x-note": "a\r\nx-injected: 1"])
        } throws: { ($0 as? ResponseTrailersError)?.description == "The value of trailer 'x-note' has a line break or NUL." }
    }

    @Test func theTestClientKeepsAStreamsTrailers() async throws {
        let app = App()
        app.get("/sum") { _ in
            Response.stream { writer in
                try await writer.write(ByteBuffer(string: "12"))
                try await writer.writeTrailers(["x-sum": "3"])
            }
        }
        app.get("/bad") { _ in
            Response.stream { writer in
                try await writer.write(ByteBuffer(string: "12"))
                try await writer.writeTrailers(["content-length": "3"])
            }
        }
        let client = TestClient(app: app)
        let response = await client.get("/sum")
        #expect(response.text == "12")
        #expect(response.trailers.first(name: "x-sum") == "3")
        let bad = await client.get("/bad")
        #expect(bad.trailers.isEmpty)
    }
}
