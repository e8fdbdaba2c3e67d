// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Carafe",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Carafe", targets: ["Carafe"]),
        .library(name: "CarafeHTTP", targets: ["CarafeHTTP"]),
        .library(name: "CarafeTesting", targets: ["CarafeTesting"]),
        .executable(name: "hello", targets: ["Hello"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // The HTTP/1.1 server core: sockets, parsing, limits, timeouts, graceful shutdown.
        .target(
            name: "CarafeHTTP",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The framework: App, routing, requests, responses, hooks, errors, command line.
        .target(
            name: "Carafe",
            dependencies: [
                "CarafeHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Flask's test_client: requests through the app without a socket.
        .target(name: "CarafeTesting", dependencies: ["Carafe"]),
        .executableTarget(name: "Hello", dependencies: ["Carafe"], path: "Examples/Hello"),
        .testTarget(name: "CarafeTests", dependencies: ["Carafe", "CarafeTesting"]),
        .testTarget(name: "CarafeHTTPTests", dependencies: ["CarafeHTTP", "Carafe"]),
        // Runs the built `hello` executable as a user would: its command line, signals, access log.
        .testTarget(name: "HelloTests", dependencies: ["Hello"]),
    ]
)
