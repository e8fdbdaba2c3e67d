import Carafe
import CarafeSQL
import CarafeSQLite
import CarafeTesting
import InMemoryTracing
import Logging
import Synchronization
import Testing
import Tracing

/// swift-distributed-tracing's `InMemoryTracer`, with W3C `traceparent` propagation as an
/// OpenTelemetry tracer has (the in-memory tracer propagates its own headers only).
final class W3CInMemoryTracer: Tracer {
    typealias Span = InMemorySpan
    let inner = InMemoryTracer(
        idGenerator: .init(nextTraceID: { W3CInMemoryTracer.hex(16) }, nextSpanID: { W3CInMemoryTracer.hex(8) })
    )

    static func hex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in
            let byte = UInt8.random(in: 0...255)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }

    var finishedSpans: [FinishedInMemorySpan] { self.inner.finishedSpans }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> InMemorySpan {
        self.inner.startSpan(operationName, context: context(), ofKind: kind, at: instant(), function: function, file: fileID, line: line)
    }

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let value = extractor.extract(key: "traceparent", from: carrier), let parent = TraceParent(value) else { return }
        context.inMemorySpanContext = InMemorySpanContext(traceID: parent.traceID, spanID: parent.parentID, parentSpanID: nil)
    }

    func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let span = context.inMemorySpanContext else { return }
        injector.inject(TraceParent(traceID: span.traceID, parentID: span.spanID, flags: 1).header, forKey: "traceparent", into: &carrier)
    }

    func forceFlush() {}
}

/// Collects log records' metadata, to read `trace_id` from `req.logger`.
final class MetadataLog: Sendable {
    let records = Mutex<[Logger.Metadata]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Handler(log: self) }
    }

    struct Handler: LogHandler {
        let log: MetadataLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            self.log.records.withLock { $0.append(self.metadata) }
        }
    }
}

/// A span per request through swift-distributed-tracing: names, attributes, the parent taken
/// from `traceparent`, database statements as child spans, and the trace id in `req.logger`.
@Suite struct TracingTests {
    static func app(_ tracer: W3CInMemoryTracer, log: MetadataLog? = nil) async throws -> (App, Database) {
        let db = Database(driver: SQLiteDriver.inMemory())
        try await db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        try await db.execute("INSERT INTO users (id, name) VALUES (1, 'ann')")
        let app = App()
        app.tracer = tracer
        if let log { app.logger = log.logger }
        app.useDatabase(db)
        app.get("/users/:id") { req -> String in
            req.logger.info("looking up")
            let name = try await req.db.first(
                "SELECT name FROM users WHERE id = \(req.parameters.require("id", as: Int.self))",
                as: String.self
            )
            return name ?? "nobody"
        }
        app.get("/headers") { req -> String in req.traceHeaders.first(name: "traceparent") ?? "none" }
        app.get("/fail") { _ -> String in throw HTTPError(.serviceUnavailable, "down") }
        return (app, db)
    }

    @Test func eachRequestIsAServerSpanNamedByMethodAndRoutePattern() async throws {
        let tracer = W3CInMemoryTracer()
        let (app, db) = try await Self.app(tracer)
        defer { Task { await db.shutdown() } }
        #expect(await app.test.get("/users/1?x=1").text == "ann")
        #expect(await app.test.get("/nope").status == .notFound)
        #expect(await app.test.get("/fail").status == .serviceUnavailable)
        let servers = tracer.finishedSpans.filter { $0.kind == .server }
        #expect(servers.map(\.operationName) == ["GET /users/:id", "GET", "GET /fail"])
        let user = try #require(servers.first)
        #expect(user.attributes["http.route"]?.toSpanAttribute() == "/users/:id")
        #expect(user.attributes["http.request.method"]?.toSpanAttribute() == "GET")
        #expect(user.attributes["url.path"]?.toSpanAttribute() == "/users/1")
        #expect(user.attributes["url.query"]?.toSpanAttribute() == "x=1")
        #expect(user.attributes["http.response.status_code"]?.toSpanAttribute() == 200)
        #expect(user.parentSpanID == nil)
        #expect(servers[1].attributes["http.route"] == nil)
        #expect(servers[1].attributes["http.response.status_code"]?.toSpanAttribute() == 404)
        #expect(servers[2].status?.code == .error)
        #expect(user.status == nil)
    }

    @Test func aTrustedTraceparentIsTheParentAndAnUntrustedOneIsIgnored() async throws {
        let tracer = W3CInMemoryTracer()
        let (app, db) = try await Self.app(tracer)
        defer { Task { await db.shutdown() } }
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        let parent: HTTPHeaders = ["traceparent": "00-\(traceID)-00f067aa0ba902b7-01"]
        _ = await app.test.get("/users/1", headers: parent)  // from 127.0.0.1: trusted by default
        var outsider = app.test
        outsider.remoteAddress = try SocketAddress(ipAddress: "203.0.113.9", port: 4000)
        _ = await outsider.get("/users/1", headers: parent)
        _ = await app.test.get("/users/1", headers: ["traceparent": "00-\(traceID)-0000000000000000-01"])  // invalid: all-zero parent
        let servers = tracer.finishedSpans.filter { $0.kind == .server }
        try #require(servers.count == 3)
        #expect(servers[0].traceID == traceID)
        #expect(servers[0].parentSpanID == "00f067aa0ba902b7")
        #expect(servers[1].traceID != traceID)
        #expect(servers[1].parentSpanID == nil)
        #expect(servers[2].traceID != traceID)
        #expect(servers[2].parentSpanID == nil)
    }

    @Test func anyPeerReadsTheUntrustedOneAndNeverReadsNone() async throws {
        for (source, joins) in [(TraceContextSource.anyPeer, true), (.never, false)] {
            let tracer = W3CInMemoryTracer()
            let (app, db) = try await Self.app(tracer)
            app.traceContextFrom = source
            var outsider = app.test
            outsider.remoteAddress = try SocketAddress(ipAddress: "203.0.113.9", port: 4000)
            _ = await outsider.get("/nope", headers: ["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"])
            let span = try #require(tracer.finishedSpans.first { $0.kind == .server })
            #expect((span.traceID == "4bf92f3577b34da6a3ce929d0e0e4736") == joins, "\(source)")
            await db.shutdown()
        }
    }

    @Test func databaseStatementsAreChildSpansOfTheRequestsSpan() async throws {
        let tracer = W3CInMemoryTracer()
        let (app, db) = try await Self.app(tracer)
        defer { Task { await db.shutdown() } }
        let before = tracer.finishedSpans.count  // the set-up's statements ran outside any span: none
        #expect(before == 0)
        _ = await app.test.get("/users/1")
        let spans = tracer.finishedSpans
        let server = try #require(spans.first { $0.kind == .server })
        let query = try #require(spans.first { $0.kind == .client })
        #expect(query.operationName == "SELECT")
        #expect(query.parentSpanID == server.spanID)
        #expect(query.traceID == server.traceID)
        #expect(query.attributes["db.system.name"]?.toSpanAttribute() == "sqlite")
        #expect(query.attributes["db.query.text"]?.toSpanAttribute() == "SELECT name FROM users WHERE id = ?")
    }

    @Test func theSpanContextPropagatesToOutgoingHeadersAndTheLogger() async throws {
        let tracer = W3CInMemoryTracer()
        let log = MetadataLog()
        let (app, db) = try await Self.app(tracer, log: log)
        defer { Task { await db.shutdown() } }
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        let header = await app.test.get("/headers", headers: ["traceparent": "00-\(traceID)-00f067aa0ba902b7-01"]).text
        let server = try #require(tracer.finishedSpans.first { $0.kind == .server })
        #expect(header == "00-\(traceID)-\(server.spanID)-01")
        _ = await app.test.get("/users/1", headers: ["traceparent": "00-\(traceID)-00f067aa0ba902b7-01"])
        let lookedUp = try #require(log.records.withLock { $0 }.last { $0["request_id"] != nil })
        #expect(lookedUp["trace_id"] == "\(traceID)")
    }

    @Test func withoutATracerNothingIsTraced() async throws {
        let app = App()
        app.get("/headers") { req -> String in req.traceHeaders.first(name: "traceparent") ?? "none" }
        #expect(
            await app.test.get("/headers", headers: ["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]).text
                == "none"
        )
    }

    @Test func traceparentParsesStrictly() {
        let good = TraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(good?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(good?.sampled == true)
        #expect(good?.header == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        for bad in [
            "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            #expect(TraceParent(bad) == nil, "\(bad)")
        }
        #expect(TraceParent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future")?.sampled == false)
    }
}
