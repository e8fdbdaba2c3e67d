import Carafe
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// Persistent connections and pipelining (RFC 9112 §9.3).
@Suite struct KeepAliveTests {
    @Test func twoRequestsOnOneConnectionAreBothAnsweredAndTheConnectionStaysOpen() async throws {
        try await withTestServer(configure: { $0.keepAliveTimeout = .seconds(10) }) { server in
            let connection = try await server.connect()

            try await connection.send(rawRequest("GET", "/one"))
            let first = try await connection.readResponse()
            #expect(first.status == 200)
            #expect(first.version == "HTTP/1.1")
            #expect(first.bodyText == "GET /one\n")
            #expect(first.header("connection")?.lowercased() != "close")

            try await connection.send(rawRequest("POST", "/two", body: "payload"))
            let second = try await connection.readResponse()
            #expect(second.status == 200)
            #expect(second.bodyText == "POST /two\npayload")
            #expect(second.header("connection")?.lowercased() != "close")

            #expect(try await connection.waitForClose(timeout: 0.3) == false, "the server closed a keep-alive connection")
            try await connection.send(rawRequest("GET", "/three"))
            #expect(try await connection.readResponse().bodyText == "GET /three\n")
        }
    }

    @Test func curlReusesTheConnection() async throws {
        try await withTestServer(configure: { $0.keepAliveTimeout = .seconds(10) }) { server in
            let result = try await curl(["-v", "\(server.baseURL)/first", "\(server.baseURL)/second"])
            #expect(result.exitCode == 0, "\(result.output)")
            #expect(result.output.contains("Re-using existing connection"), "\(result.output)")
            #expect(result.output.contains("GET /first"))
            #expect(result.output.contains("GET /second"))
        }
    }

    @Test func anAppServesSeveralRequestsOnOneConnection() async throws {
        let app = App()
        app.get("/hello") { _ in "Hello, World!" }
        app.post("/echo") { request in request.bodyText }
        try await withTestServer(responder: app) { server in
            let connection = try await server.connect()

            try await connection.send(rawRequest("GET", "/hello"))
            let hello = try await connection.readResponse()
            #expect(hello.status == 200)
            #expect(hello.bodyText == "Hello, World!")

            try await connection.send(rawRequest("GET", "/missing"))
            let missing = try await connection.readResponse()
            #expect(missing.status == 404)
            #expect(missing.header("connection")?.lowercased() != "close", "a 404 from the app need not end the connection")

            try await connection.send(rawRequest("POST", "/echo", body: "same connection"))
            let echoed = try await connection.readResponse()
            #expect(echoed.status == 200)
            #expect(echoed.bodyText == "same connection")
            #expect(try await connection.waitForClose(timeout: 0.3) == false)
        }
    }

    @Test func threePipelinedRequestsAreAnsweredInOrder() async throws {
        // The first request is the slowest: answered out of order, its response would come last.
        let inFlight = Box(0)
        let maxInFlight = Box(0)
        let responder = ClosureResponder { request in
            let now = inFlight.update {
                $0 += 1
                return $0
            }
            maxInFlight.update { $0 = max($0, now) }
            let delay: Duration =
                switch request.head.uri {
                case "/1": .milliseconds(300)
                case "/2": .milliseconds(100)
                default: .zero
                }
            try? await Task.sleep(for: delay)
            let body = await collectText(request).text ?? "?"
            inFlight.update { $0 -= 1 }
            return .text("answer to \(request.head.uri)\(body.isEmpty ? "" : " with \(body)")")
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/1") + rawRequest("GET", "/2") + rawRequest("POST", "/3", body: "x"))

            var bodies: [String] = []
            for _ in 0..<3 {
                let response = try await connection.readResponse()
                #expect(response.status == 200)
                bodies.append(response.bodyText)
            }
            #expect(bodies == ["answer to /1", "answer to /2", "answer to /3 with x"])
            #expect(maxInFlight.value == 1, "calls for one connection must not overlap")
            #expect(try await connection.waitForClose(timeout: 0.2) == false)
        }
    }

    @Test func aHeadResponseHasHeadersButNoBodyBytes() async throws {
        let responder = ClosureResponder { request in
            .text(request.head.uri == "/head" ? "hello world" : "next one")
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            // HEAD and GET in one write: the GET's response must start right after the HEAD's head.
            try await connection.send(rawRequest("HEAD", "/head") + rawRequest("GET", "/next"))

            let head = try await connection.readResponse(bodyless: true)
            #expect(head.status == 200)
            #expect(head.header("content-length") == "11")
            #expect(head.header("content-type") == "text/plain; charset=utf-8")

            let next = try await connection.readResponse()
            #expect(next.status == 200, "bytes after the HEAD response head: \(next.rawHead)")
            #expect(next.bodyText == "next one")
            #expect(try await connection.unreadBytes(waiting: 0.2).isEmpty)
        }
    }

    @Test func headOnAnAppGetRouteHasTheGetLengthAndNoBody() async throws {
        let app = App()
        app.get("/page") { _ in "Hello" }
        try await withTestServer(responder: app) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("HEAD", "/page") + rawRequest("GET", "/page"))

            let head = try await connection.readResponse(bodyless: true)
            #expect(head.status == 200)
            #expect(head.header("content-length") == "5")

            let get = try await connection.readResponse()
            #expect(get.status == 200, "bytes after the HEAD response head: \(get.rawHead)")
            #expect(get.bodyText == "Hello")
            #expect(try await connection.unreadBytes(waiting: 0.2).isEmpty)
        }
    }
}
