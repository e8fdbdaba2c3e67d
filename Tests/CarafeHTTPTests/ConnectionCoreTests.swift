import Carafe
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CarafeHTTP

/// The wiring of `HTTPConnectionStateMachine` over real sockets: one end-to-end check per
/// behaviour (the machine's tests cover the transitions).
@Suite struct ConnectionCoreTests {
    /// Answers 404 (or 405 for /json) without reading the body, else echoes.
    static let earlyResponder = ClosureResponder { request in
        switch request.head.uri {
        case "/json": return .text("Method Not Allowed", status: .methodNotAllowed)
        case "/nope": return .text("Not Found", status: .notFound)
        default: return await echoResponder.respond(to: request)
        }
    }

    @Test(arguments: ["/json", "/nope"])
    func anEarlyResponseDiscardsASmallBodyAndAnswersThePipelinedRequest(path: String) async throws {
        try await withTestServer(responder: Self.earlyResponder) { server in
            let connection = try await server.connect()
            // Both requests in one write: the second is pipelined behind the 11-byte body.
            try await connection.send(rawRequest("POST", path, body: "hello world") + rawRequest("GET", "/after"))
            let early = try await connection.readResponse()
            #expect(early.status == (path == "/json" ? 405 : 404))
            #expect(early.header("connection")?.lowercased() != "close", "the connection was given up for an 11-byte body")
            let next = try await connection.readResponse()
            #expect(next.status == 200)
            #expect(next.bodyText == "GET /after\n")
        }
    }

    @Test func anEarlyResponseBeforeALargeBodyClosesTheConnection() async throws {
        try await withTestServer(responder: Self.earlyResponder, configure: { $0.maxDiscardedBody = 100 }) { server in
            let connection = try await server.connect()
            try await connection.send(
                rawRequest("POST", "/nope", headers: ["Content-Length: 100000"]) + String(repeating: "x", count: 1000)
            )
            let early = try await connection.readResponse()
            #expect(early.status == 404)
            #expect(early.header("connection")?.lowercased() == "close")
        }
    }

    @Test(arguments: ["9223372036854775808", "99999999999999999999"])
    func aContentLengthPastIntMaxIsRefused(length: String) async throws {
        try await withTestServer { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/", headers: ["Content-Length: \(length)"]))
            let response = try await connection.readResponse()
            // Past Int.max: 413 naming it; past UInt64.max NIO's parser already says 400.
            #expect(response.status == 413 || response.status == 400)
            #expect(response.bodyText.lowercased().contains("content-length"))
            #expect(try await connection.waitForClose(timeout: 5))
        }
    }

    @Test func aSlowDripBodyGets408() async throws {
        let failure = Box<String?>(nil)
        let responder = ClosureResponder { request in
            let body = await collectText(request)
            failure.value = body.error.map { "\($0)" }
            return .text("read \(body.text?.count ?? -1)")
        }
        try await withTestServer(
            responder: responder,
            configure: {
                $0.bodyTimeout = .milliseconds(300)
                $0.bodyMinRate = 1000
            }
        ) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest("POST", "/", headers: ["Content-Length: 100000"]))
            // A byte every 100 ms: never idle for 300 ms, far below 1000 bytes/s.
            var answer: RawHTTPResponse?
            for _ in 0..<40 {
                do {
                    try await connection.send("x")
                } catch {
                    break
                }
                if let bytes = try? await connection.unreadBytes(waiting: 0.1), !bytes.isEmpty {
                    answer = try await connection.readResponse()
                    break
                }
            }
            #expect(answer?.status == 408)
            #expect(answer?.bodyText.contains("body") == true, "\(answer?.bodyText ?? "")")
            #expect(await eventually { failure.value != nil }, "the handler's body did not fail")
        }
    }

    @Test func aHandlerThatTakesTooLongIsCancelledAndAnswered503() async throws {
        let cancelled = Box(false)
        let responder = ClosureResponder { _ in
            try? await Task.sleep(for: .seconds(30))
            cancelled.value = Task.isCancelled
            return .text("too late")
        }
        try await withTestServer(responder: responder, configure: { $0.handlerTimeout = .milliseconds(200) }) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            let response = try await connection.readResponse()
            #expect(response.status == 503)
            #expect(response.header("retry-after") != nil)
            #expect(response.bodyText.contains("handler timeout"))
            #expect(await eventually { cancelled.value })
        }
    }

    @Test func aDeadlineTheResponderSetsForTheRequestWinsAndIsNamedInThe503() async throws {
        let cancelled = Box(false)
        let responder = ClosureResponder { request in
            if request.head.uri == "/slow" {
                // What the framework does once it matched a route with `timeout:`.
                request.deadline.set(.milliseconds(200), origin: "the timeout of route GET /slow")
            }
            try? await Task.sleep(for: .seconds(30))
            cancelled.value = Task.isCancelled
            return .text("too late")
        }
        // The app-wide limit is far away: only the request's own deadline can answer in time.
        try await withTestServer(responder: responder, configure: { $0.handlerTimeout = .seconds(60) }) { server in
            let connection = try await server.connect(timeout: 10)
            let started = ContinuousClock.now
            try await connection.send(rawRequest("GET", "/slow"))
            let response = try await connection.readResponse()
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(response.status == 503)
            #expect(response.header("retry-after") == "1")
            #expect(
                response.bodyText == "503 Service Unavailable: The handler did not answer within 200 ms (the timeout of route GET /slow).\n"
            )
            #expect(await eventually { cancelled.value }, "the handler's task was not cancelled")
        }
    }

    /// The resident set of this process, in bytes.
    static func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test func aClientThatStopsReadingAStreamIsClosedAfterTheWriteTimeoutAndTheWriterThrows() async throws {
        let written = Box(0)
        let failure = Box<String?>(nil)
        let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
        let responder = ClosureResponder { _ in
            HTTPServerResponse(
                status: .ok,
                body: .stream(length: nil) { writer in
                    // An endless download: only the write timeout can end it.
                    do {
                        while true {
                            try await writer.write(chunk)
                            written.update { $0 += chunk.readableBytes }
                        }
                    } catch {
                        failure.value = "\(error)"
                        throw error
                    }
                }
            )
        }
        try await withTestServer(responder: responder, configure: { $0.writeTimeout = .milliseconds(300) }) { server in
            let before = Self.residentBytes()
            let connection = try await server.connect(timeout: 10)
            try await connection.send(rawRequest("GET", "/download"))
            // The client reads nothing: the socket fills, the writer waits, the timeout closes.
            #expect(await eventually(timeout: 20) { failure.value != nil }, "the writer never failed (wrote \(written.value) bytes)")
            // Memory stays flat: the writer was held back by the socket, not buffered without end.
            #expect(written.value < 64 << 20, "wrote \(written.value) bytes to a client that read none")
            #expect(Self.residentBytes() - before < 64 << 20, "the server grew by \(Self.residentBytes() - before) bytes")
            // What the kernel had buffered is readable, then the connection ends.
            let received = try await connection.readUntilClose(timeout: 10)
            #expect(received.count < written.value + chunk.readableBytes + 4096, "received \(received.count) of \(written.value)")
        }
    }

    @Test func theCompletionReportsAStreamedBodysBytesOnceItHasEnded() async throws {
        let summary = Box<ResponseSummary?>(nil)
        let responder = ClosureResponder { request in
            request.completion.whenFinished { summary.value = $0 }
            return HTTPServerResponse(
                status: .ok,
                body: .stream(length: nil) { writer in
                    for _ in 0..<3 { try await writer.write(ByteBuffer(string: "0123456789")) }
                }
            )
        }
        try await withTestServer(responder: responder) { server in
            let connection = try await server.connect()
            try await connection.send(rawRequest())
            #expect(try await connection.readResponse().bodyText.count == 30)
            #expect(await eventually { summary.value != nil })
            #expect(summary.value?.bytes == 30)
            #expect(summary.value?.complete == true)
        }
    }

    @Test func aLongLivedStreamEndsCleanlyWhenTheServerDrains() async throws {
        let subscribed = Box(false)
        let responder = ClosureResponder { _ in
            HTTPServerResponse(
                status: .ok,
                body: .stream(length: nil) { writer in
                    try await writer.write(ByteBuffer(string: "first\n"))
                    // What BroadcastHub does for a subscription: end it when the drain begins.
                    let (stream, continuation) = AsyncStream.makeStream(of: String.self)
                    let token = DrainSignal.current?.onDrain { continuation.finish() }
                    subscribed.value = token != nil
                    for await line in stream { try await writer.write(ByteBuffer(string: line)) }
                    DrainSignal.current?.cancel(token)
                    try await writer.write(ByteBuffer(string: "bye\n"))
                }
            )
        }
        let server = try await TestServer.start(responder: responder, configure: { $0.gracefulTimeout = .seconds(20) })
        let connection = try await server.connect()
        try await connection.send(rawRequest())
        #expect(await eventually { subscribed.value }, "no DrainSignal in the producer's task")
        let begin = ContinuousClock.now
        await server.shutdown(closingIdle: true)
        #expect(ContinuousClock.now - begin < .seconds(5), "the stream held the shutdown")
        let response = try await connection.readResponse()
        #expect(response.bodyText == "first\nbye\n", "the chunked body was not terminated cleanly")
    }

    @Test func aStartUpErrorNamesTheAddressInUse() async throws {
        try await withTestServer { first in
            do {
                let second = try await TestServer.start(bind: [.hostPort(host: "127.0.0.1", port: first.port)], responder: echoResponder)
                await second.shutdown()
                Issue.record("a second server bound the same port")
            } catch {
                let text = "\(error)"
                #expect(text.contains("127.0.0.1:\(first.port)"), "\(text)")
                #expect(text.lowercased().contains("in use"), "\(text)")
            }
        }
    }

    @Test func aStartUpErrorNamesTheUnixSocketPathAndWhy() async throws {
        let path = "/nonexistent-carafe-dir/app.sock"
        do {
            let server = try await TestServer.start(bind: [.unixDomainSocket(path: path)], responder: echoResponder)
            await server.shutdown()
            Issue.record("bound a socket in a directory that does not exist")
        } catch {
            let text = "\(error)"
            #expect(text.contains(path), "\(text)")
            #expect(text.contains("no such file") || text.contains("does not exist"), "\(text)")
        }
    }
}
