import Carafe
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import CarafeHTTP

#if canImport(Glibc)
import Glibc
#endif

/// Listening addresses: IPv6, unix domain sockets, and the `--bind` syntax.
@Suite struct BindTests {
    @Test(.enabled(if: ipv6LoopbackAvailable, "::1 is not available on this machine"))
    func servesOnIPv6Loopback() async throws {
        try await withTestServer(bind: [.hostPort(host: "::1", port: 0)]) { server in
            guard case .v6 = server.address else {
                Issue.record("expected an IPv6 listening address, got \(server.address)")
                return
            }
            #expect(server.port > 0)
            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/six"))
            let response = try await connection.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "GET /six\n")

            let viaCurl = try await curl(["-g", "\(server.baseURL)/curl6"])
            #expect(viaCurl.exitCode == 0, "\(viaCurl.output)")
            #expect(viaCurl.output == "GET /curl6\n")
        }
    }

    @Test func servesOnAUnixDomainSocket() async throws {
        let path = "/tmp/carafe-test-\(UUID().uuidString.prefix(8)).sock"
        defer { unlink(path) }
        try await withTestServer(bind: [.unixDomainSocket(path: path)]) { server in
            #expect(server.address.pathname == path)
            let viaCurl = try await curl(["--unix-socket", path, "http://localhost/over/unix"])
            #expect(viaCurl.exitCode == 0, "\(viaCurl.output)")
            #expect(viaCurl.output == "GET /over/unix\n")

            let connection = try await server.connect()
            try await connection.send(rawRequest("GET", "/raw"))
            #expect(try await connection.readResponse().bodyText == "GET /raw\n")
        }
    }

    @Test func listensOnEveryConfiguredAddress() async throws {
        let path = "/tmp/carafe-test-\(UUID().uuidString.prefix(8)).sock"
        defer { unlink(path) }
        try await withTestServer(bind: [.hostPort(host: "127.0.0.1", port: 0), .unixDomainSocket(path: path)]) { server in
            let addresses = server.server.localAddresses
            #expect(addresses.count == 2)
            for address in addresses {
                let connection = try await RawHTTPConnection.connect(to: address)
                try await connection.send(rawRequest("GET", "/both"))
                #expect(try await connection.readResponse().status == 200, "via \(address)")
            }
        }
    }

    @Test func startFailsCleanlyWhenThePortIsTaken() async throws {
        try await withTestServer { first in
            await #expect(throws: (any Error).self) {
                let second = try await TestServer.start(bind: [.hostPort(host: "127.0.0.1", port: first.port)], responder: echoResponder)
                await second.shutdown()
            }
            // The first server is unaffected.
            let connection = try await first.connect()
            try await connection.send(rawRequest())
            #expect(try await connection.readResponse().status == 200)
        }
    }

    // MARK: - BindAddress parsing

    @Test(arguments: [
        ("127.0.0.1:8000", BindAddress.hostPort(host: "127.0.0.1", port: 8000)),
        ("0.0.0.0:80", .hostPort(host: "0.0.0.0", port: 80)),
        ("localhost:5000", .hostPort(host: "localhost", port: 5000)),
        ("[::1]:8080", .hostPort(host: "::1", port: 8080)),
        ("[::]:0", .hostPort(host: "::", port: 0)),
        (":8000", .hostPort(host: "0.0.0.0", port: 8000)),
        ("8000", .hostPort(host: "127.0.0.1", port: 8000)),
        ("127.0.0.1:65535", .hostPort(host: "127.0.0.1", port: 65535)),
        ("unix:/run/app.sock", .unixDomainSocket(path: "/run/app.sock")),
        ("unix:relative.sock", .unixDomainSocket(path: "relative.sock")),
        ("fd://3", .fileDescriptor(3)),
    ])
    func parsesValidBindAddresses(text: String, expected: BindAddress) throws {
        #expect(try BindAddress(parsing: text) == expected)
    }

    @Test(arguments: [
        ("unix:", "the socket path is empty"),
        ("[::1", "closing ']'"),
        ("[::1]8000", "expected ':PORT' after ']'"),
        ("[::1]", "expected ':PORT' after ']'"),
        ("127.0.0.1:", "is not a port number"),
        ("127.0.0.1:http", "'http' is not a port number (0-65535)"),
        ("127.0.0.1:65536", "'65536' is not a port number"),
        ("127.0.0.1:-1", "'-1' is not a port number"),
        ("", "is not a port number"),
        ("localhost", "'localhost' is not a port number"),
        ("[::1]:port", "'port' is not a port number"),
        ("fd://", "is not a file descriptor number"),
        ("fd://three", "'three' is not a file descriptor number"),
        ("fd://-1", "'-1' is not a file descriptor number"),
    ])
    func rejectsBadBindAddressesWithAClearReason(text: String, reason: String) {
        do {
            let parsed = try BindAddress(parsing: text)
            Issue.record("'\(text)' parsed as \(parsed); expected an error saying \(reason)")
        } catch let error as BindAddressError {
            #expect(error.text == text)
            #expect(error.reason.contains(reason), "\(error.reason)")
            #expect(error.description.hasPrefix("invalid bind address '\(text)': "), "\(error.description)")
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }

    @Test func anEmptyBracketedHostIsRejected() {
        #expect(throws: BindAddressError.self, "'[]:8000' has no host") {
            try BindAddress(parsing: "[]:8000")
        }
    }

    @Test(arguments: ["127.0.0.1:8000", "[::1]:8080", "unix:/run/app.sock", "localhost:0", "fd://3"])
    func descriptionRoundTrips(text: String) throws {
        let address = try BindAddress(parsing: text)
        #expect(address.description == text)
        #expect(try BindAddress(parsing: address.description) == address)
    }
}
