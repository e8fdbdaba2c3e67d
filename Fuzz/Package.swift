// swift-tools-version:6.0
// libFuzzer targets for Carafe's parsers of client bytes. Built apart from the main package,
// since every module (NIO's included) is compiled with coverage instrumentation:
//
//     scripts/fuzz                  # each target for 60 s
//     scripts/fuzz 300 range        # one target for 5 minutes
//
// See docs/security.md ("Fuzzing").
import PackageDescription

let targets = ["Range", "HTTPDate", "Cookie", "Forwarded", "TrustedAddresses", "ProxyProtocol", "Form", "Query", "Path", "WebSocket", "Multipart", "SQLRow"]

let package = Package(
    name: "CarafeFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Carafe", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "CarafeCore", package: "Carafe")], path: "Sources/FuzzSupport"),
    ] + targets.map { name in
        .executableTarget(
            name: "Fuzz\(name)",
            dependencies: [
                "FuzzSupport",
                .product(name: "CarafeCore", package: "Carafe"),
                .product(name: "CarafeHTTP", package: "Carafe"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ] + (name == "SQLRow" ? [.product(name: "CarafeSQL", package: "Carafe")] : []),
            path: "Sources/Fuzz\(name)"
        )
    }
)
