// swift-tools-version:6.2
// The Hummingbird 2 peer for scripts/bench-tls: HTTP/1.1 over TLS, h2 over TLS and h2c.
// A separate package so that Carafe itself never depends on Hummingbird; scripts/bench-tls
// builds it in release on first use.
import PackageDescription

let package = Package(
    name: "HummingbirdTLSPeer",
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
    ],
    targets: [
        .executableTarget(
            name: "HummingbirdTLSPeer",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
            ]
        ),
    ]
)
