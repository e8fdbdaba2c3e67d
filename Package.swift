// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Carafe",
    products: [
        .library(name: "Carafe", targets: ["Carafe"]),
        .library(name: "CarafeCore", targets: ["CarafeCore"]),
        .library(name: "CarafeBroadcast", targets: ["CarafeBroadcast"]),
        .library(name: "CarafeHTTP", targets: ["CarafeHTTP"]),
        .library(name: "CarafeTesting", targets: ["CarafeTesting"]),
        .library(name: "CarafeSupervisor", targets: ["CarafeSupervisor"]),
        .library(name: "CarafeStreaming", targets: ["CarafeStreaming"]),
        .library(name: "CarafeSessions", targets: ["CarafeSessions"]),
        .library(name: "CarafeMustache", targets: ["CarafeMustache"]),
        .library(name: "CarafeSQL", targets: ["CarafeSQL"]),
        .library(name: "CarafePostgres", targets: ["CarafePostgres"]),
        .library(name: "CarafeSQLite", targets: ["CarafeSQLite"]),
        .library(name: "CarafeDatabase", targets: ["CarafeDatabase"]),
        .library(name: "CarafeCompression", targets: ["CarafeCompression"]),
        .library(name: "CarafeTLS", targets: ["CarafeTLS"]),
        .library(name: "CarafeHTTP2", targets: ["CarafeHTTP2"]),
        .library(name: "CarafeMetrics", targets: ["CarafeMetrics"]),
        .library(name: "CarafeTOML", targets: ["CarafeTOML"]),
        .library(name: "CarafeOTel", targets: ["CarafeOTel"]),
        .executable(name: "hello", targets: ["Hello"]),
        .executable(name: "chat", targets: ["Chat"]),
        .executable(name: "accounts", targets: ["Accounts"]),
        .executable(name: "behind-proxy", targets: ["BehindProxy"]),
        .executable(name: "microblog", targets: ["Microblog"]),
        .executable(name: "techempower", targets: ["TechEmpower"]),
        .executable(name: "concurrency-bench", targets: ["ConcurrencyBench"]),
        .executable(name: "traced", targets: ["Traced"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Only CarafeSessions uses these two, and only CarafeMustache the third. 3.x keeps the
        // graph resolvable beside postgres-nio 1.33.2, which asks for swift-crypto 3.9.0 ..< 6.0.0.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        // Only CarafeCompression uses it: zlib's gzip and deflate for NIO's buffers.
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        // Only CarafeTLS uses the first (postgres-nio needs it too), only CarafeHTTP2 the second.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        // Only CarafeSessions uses it, for its bcrypt (HummingbirdBcrypt, OpenBSD's C): verifying
        // the $2a$/$2b$/$2y$ hashes of users tables from Vapor or Hummingbird apps.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // The core records through swift-metrics' API only; CarafeMetrics adds the Prometheus backend.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Only CarafeTOML uses it (toml++, C++): configuration files in TOML.
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // The core and CarafeSQL start spans through swift-distributed-tracing's API only (a
        // no-op unless the program bootstraps a tracer); exporting is the tracer's business.
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // Only CarafeOTel uses it: OTLP export of the spans (and metrics). OTLP/HTTP only (its
        // `OTLPHTTP` trait): the default traits add OTLP/gRPC, which builds grpc-swift for minutes.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        // `Service` and `ServiceGroup`: the app's services (pools, the backplane, the user's) run
        // as services, and an app runs inside a user's group (`app.service()`); swift-otel's
        // background work is one too.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // The HTTP/1.1 server core: sockets, parsing, limits, timeouts, graceful shutdown, WebSocket.
        .target(
            name: "CarafeHTTP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The application server: a master process that binds the sockets and supervises
        // worker processes (heartbeats, timeouts, reload, signals), as Gunicorn's arbiter does.
        .target(
            name: "CarafeSupervisor",
            dependencies: [
                "CarafeHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The framework: App, routing, requests, responses, hooks, errors, the in-process responder.
        // Extensions depend on this, not on `Carafe`, so they link no supervisor or command line.
        .target(
            name: "CarafeCore",
            dependencies: [
                "CarafeHTTP", .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // What a plain app imports: the framework plus `app.run()`, its command line (`serve`,
        // `routes`, app commands) and the process supervisor behind `serve --workers`.
        .target(
            name: "Carafe",
            dependencies: [
                "CarafeCore",
                "CarafeSupervisor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `serve --metrics-bind`: the Prometheus backend of swift-metrics, the `/metrics`
        // endpoint, and under `--workers` the master's aggregate of its workers' reports.
        .target(
            name: "CarafeMetrics",
            dependencies: [
                "Carafe",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The broadcast hub and its backplane protocol, on the server core only (a draining server
        // ends its subscriptions), so a backplane needs no framework.
        .target(
            name: "CarafeBroadcast",
            dependencies: [
                "CarafeHTTP", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Long-lived connections: Server-Sent Events, WebSocket routes, long-polling.
        .target(name: "CarafeStreaming", dependencies: ["CarafeCore", "CarafeBroadcast"]),
        // Flask's session, CSRF protection and password hashing: signed cookies, tokens, scrypt/PBKDF2.
        .target(
            name: "CarafeSessions",
            dependencies: [
                "CarafeCore",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ]
        ),
        // Flask's render_template: a directory of Mustache templates rendered to text/html.
        .target(
            name: "CarafeMustache",
            dependencies: ["CarafeCore", .product(name: "Mustache", package: "swift-mustache")]
        ),
        // The database API, independent of the database: `SQL` with bound parameters, rows
        // decoded into Codable types, transactions, migrations, `req.db`, the `migrate` command.
        .target(
            name: "CarafeSQL",
            dependencies: [
                "CarafeCore", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // PostgreSQL through postgres-nio: a connection pool per event loop, LISTEN/NOTIFY.
        .target(
            name: "CarafePostgres",
            dependencies: [
                "CarafeSQL", "CarafeBroadcast",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // SQLite through sqlite-nio: the embedded default.
        .target(name: "CarafeSQLite", dependencies: ["CarafeSQL", .product(name: "SQLiteNIO", package: "sqlite-nio")]),
        // `Database.open(url:)`: PostgreSQL for postgres:// URLs, SQLite otherwise.
        .target(name: "CarafeDatabase", dependencies: ["CarafeSQL", "CarafePostgres", "CarafeSQLite"]),
        // Response compression (gzip, deflate, streamed bodies too) and request decompression with
        // bomb limits, through zlib (compress-nio): `app.compression()`, `app.requestDecompression()`.
        .target(
            name: "CarafeCompression",
            dependencies: ["CarafeCore", .product(name: "CompressNIO", package: "compress-nio")]
        ),
        // HTTPS: `serve --certfile --keyfile`, per-bind TLS, ALPN, reloading certificates on HUP.
        .target(
            name: "CarafeTLS",
            dependencies: [
                "CarafeCore", "CarafeHTTP",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
        // HTTP/2 over TLS (ALPN h2) and prior-knowledge h2c: each stream a request to the same app,
        // and WebSockets over HTTP/2 (RFC 8441).
        .target(
            name: "CarafeHTTP2",
            dependencies: [
                "CarafeCore", "CarafeHTTP",
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]
        ),
        // `serve --otlp-endpoint URL`: swift-otel's tracer (and metrics) exported over OTLP/HTTP to
        // a collector, in each process that serves. The core only speaks swift-distributed-tracing.
        .target(
            name: "CarafeOTel",
            dependencies: [
                "Carafe", .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `--config app.toml`: TOML configuration files for `app.config` and `serve`'s flags.
        .target(name: "CarafeTOML", dependencies: ["CarafeCore", .product(name: "TOMLKit", package: "TOMLKit")]),
        // Flask's test_client: requests through the app without a socket.
        .target(name: "CarafeTesting", dependencies: ["CarafeCore"]),
        // The README's first snippet, as written (a test checks the README still shows this file).
        .executableTarget(name: "Readme", dependencies: ["Carafe"], path: "Examples/Readme"),
        .executableTarget(
            name: "Hello",
            dependencies: [
                "Carafe", "CarafeStreaming", "CarafeCompression", "CarafeTLS", "CarafeHTTP2", "CarafeMetrics",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Examples/Hello"
        ),
        // A chat room page over WebSocket and EventSource, on one BroadcastHub channel.
        .executableTarget(name: "Chat", dependencies: ["Carafe", "CarafeStreaming"], path: "Examples/Chat"),
        // Sign-up, log-in and notes: sessions, CSRF, password hashing and templates together.
        .executableTarget(
            name: "Accounts",
            dependencies: ["Carafe", "CarafeSessions", "CarafeMustache"],
            path: "Examples/Accounts",
            resources: [.copy("Templates")]
        ),
        // A miniature of Flask's microblog: accounts, posts, follows, a paginated timeline, a JSON
        // API and a live timeline, on SQLite or PostgreSQL: what the README's first command runs.
        .executableTarget(
            name: "Microblog",
            dependencies: [
                "Carafe", "CarafeSessions", "CarafeMustache", "CarafeStreaming", "CarafeDatabase", "CarafeTOML",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Examples/Microblog",
            resources: [.copy("Templates"), .copy("migrations"), .copy("static")]
        ),
        // The TechEmpower Framework Benchmarks test types on PostgreSQL (../shared/bench/tfb.py loads them).
        .executableTarget(
            name: "TechEmpower",
            dependencies: ["Carafe", "CarafeMustache", "CarafeSQL", "CarafePostgres"],
            path: "Examples/TechEmpower",
            resources: [.copy("Templates")]
        ),
        // A traced app (CarafeOTel, SQLite): request spans with their database children, exported
        // over OTLP (`traced serve --otlp-endpoint http://127.0.0.1:4318`).
        .executableTarget(name: "Traced", dependencies: ["Carafe", "CarafeOTel", "CarafeDatabase"], path: "Examples/Traced"),
        // Routes that misbehave on purpose (block the loop, trap), for the supervisor's tests.
        .executableTarget(name: "SupervisorProbe", dependencies: ["Carafe"], path: "Examples/SupervisorProbe"),
        // The "realistic" workload of docs/concurrency.md, async and blocking (`scripts/bench-concurrency`).
        .executableTarget(
            name: "ConcurrencyBench",
            dependencies: ["Carafe", "CarafeDatabase", "CarafePostgres", .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Benchmarks/ConcurrencyBench"
        ),
        // What one password hash costs (`scripts/bench-passwords` runs it in release mode).
        .executableTarget(name: "PasswordCost", dependencies: ["CarafeSessions"], path: "Benchmarks/PasswordCost"),
        // An app behind nginx: client address, streaming, static files (the nginx tests run it).
        .executableTarget(
            name: "BehindProxy",
            dependencies: ["Carafe", "CarafeStreaming", "CarafeDatabase"],
            path: "Examples/BehindProxy"
        ),
        // A small app on the database layer (users, migrations, LISTEN/NOTIFY broadcast), for its process tests.
        .executableTarget(
            name: "DatabaseProbe",
            dependencies: ["Carafe", "CarafeDatabase", "CarafeStreaming"],
            path: "Examples/DatabaseProbe",
            exclude: ["migrations"]
        ),
        // Starting and talking to the example executables, shared by the process-level tests.
        .target(name: "ProcessTestSupport", path: "Tests/ProcessTestSupport"),
        // A throwaway PostgreSQL server (initdb + pg_ctl in a temporary directory) for the database tests.
        .target(name: "PostgresTestSupport", dependencies: ["ProcessTestSupport"], path: "Tests/PostgresTestSupport"),
        .testTarget(
            name: "CarafeTests",
            dependencies: [
                "Carafe", "CarafeCore", "CarafeTesting", "CarafeCompression",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "CarafeStreamingTests",
            dependencies: [
                "CarafeStreaming", "CarafeTesting", "ProcessTestSupport", "Hello", "Chat",
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "CarafeSessionsTests", dependencies: ["Carafe", "CarafeSessions", "CarafeTesting"]),
        .testTarget(name: "CarafeMustacheTests", dependencies: ["CarafeMustache", "CarafeTesting"]),
        // Runs the built `accounts` example over real sockets with curl: sign-up, log-in, CSRF, escaping.
        .testTarget(name: "AccountsTests", dependencies: ["Accounts", "ProcessTestSupport"]),
        // Runs the built `microblog` over real sockets with curl: on SQLite, and on a PostgreSQL it starts.
        .testTarget(name: "MicroblogTests", dependencies: ["Microblog", "ProcessTestSupport", "PostgresTestSupport"]),
        // Runs the built `techempower` over real sockets against a PostgreSQL it starts: each TFB type's rules.
        .testTarget(
            name: "TechEmpowerTests",
            dependencies: ["TechEmpower", "CarafeDatabase", "ProcessTestSupport", "PostgresTestSupport"]
        ),
        // The database layer against a real PostgreSQL (started by the tests) and SQLite.
        .testTarget(
            name: "CarafeDatabaseTests",
            dependencies: ["CarafeDatabase", "CarafeTesting", "DatabaseProbe", "ProcessTestSupport", "PostgresTestSupport"]
        ),
        .testTarget(
            name: "CarafeHTTPTests",
            dependencies: ["CarafeHTTP", "Carafe", "CarafeTesting", .product(name: "NIOEmbedded", package: "swift-nio")]
        ),
        // `hello` over TLS and HTTP/2 with curl, nghttp/h2load and Python's h2 and websockets.
        // Its HTTP/2 WebSocket handlers unit-tested on EmbeddedChannel.
        .testTarget(
            name: "CarafeTLSTests",
            dependencies: [
                "CarafeTLS", "CarafeHTTP2", "Hello", "ProcessTestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]
        ),
        // `serve --metrics-bind` scraped by Python's prometheus_client, single process and
        // `--workers`; the master's aggregate and the heartbeat channel's framing, unit-tested.
        .testTarget(
            name: "CarafeMetricsTests",
            dependencies: [
                "CarafeMetrics", "CarafeSupervisor", "Hello", "ProcessTestSupport", "CarafeTesting", "CarafeSQLite",
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ]
        ),
        // `traced serve --otlp-endpoint` against a real OTLP/HTTP receiver (Python, decoding the
        // protobuf with opentelemetry-proto): the request span, its parent, its database child.
        .testTarget(name: "CarafeOTelTests", dependencies: ["CarafeOTel", "Traced", "Hello", "ProcessTestSupport"]),
        // Runs the built `hello` executable as a user would: its command line, signals, access log.
        .testTarget(name: "HelloTests", dependencies: ["Hello", "ProcessTestSupport"]),
        // Runs `hello` and `supervisor-probe` under `serve --workers N`: crashes, timeouts, signals, reload.
        .testTarget(name: "CarafeSupervisorTests", dependencies: ["CarafeHTTP", "Hello", "SupervisorProbe", "ProcessTestSupport"]),
        // A real nginx (started by the tests, with a generated configuration) in front of
        // `behind-proxy`: forwarded headers, PROXY protocol, streaming, drain, several hosts.
        .testTarget(name: "ProxyTests", dependencies: ["BehindProxy", "ProcessTestSupport", "PostgresTestSupport"]),
    ]
)
