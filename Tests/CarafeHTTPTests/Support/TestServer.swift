import Carafe
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

@testable import CarafeHTTP

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Responders

/// A responder made of a closure.
struct ClosureResponder: HTTPResponder {
    let body: @Sendable (HTTPServerRequest) async -> HTTPServerResponse

    init(_ body: @escaping @Sendable (HTTPServerRequest) async -> HTTPServerResponse) {
        self.body = body
    }

    func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
        await self.body(request)
    }
}

extension HTTPServerResponse {
    /// A text/plain response.
    static func text(_ text: String, status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:]) -> HTTPServerResponse {
        var headers = headers
        headers.replaceOrAdd(name: "content-type", value: "text/plain; charset=utf-8")
        return HTTPServerResponse(status: status, headers: headers, body: .buffer(ByteBuffer(string: text)))
    }
}

/// The whole body of `request` as text, or nil (with the reason in `error`) if it could not be read.
func collectText(_ request: HTTPServerRequest, upTo limit: Int = 1 << 20) async -> (text: String?, error: (any Error)?) {
    do {
        return (String(buffer: try await request.body.collect(upTo: limit)), nil)
    } catch {
        return (nil, error)
    }
}

/// Answers `METHOD URI` and, after a newline, the request body (read in full).
let echoResponder = ClosureResponder { request in
    let body = await collectText(request)
    guard let text = body.text else {
        return .text("could not read the body: \(body.error.map { "\($0)" } ?? "?")", status: .badRequest)
    }
    return .text("\(request.head.method.rawValue) \(request.head.uri)\n" + text)
}

// MARK: - Small concurrency helpers

/// A value shared between a responder and a test.
final class Box<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) {
        self.storage = Mutex(value)
    }

    var value: Value {
        get { self.storage.withLock { $0 } }
        set { self.storage.withLock { $0 = newValue } }
    }

    @discardableResult
    func update<R: Sendable>(_ body: (inout Value) -> R) -> R {
        self.storage.withLock { body(&$0) }
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds passed; returns whether it held.
func eventually(timeout: Double = 5, _ condition: @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

// MARK: - The server under test

/// An `HTTPServer` started in-process on a free port of 127.0.0.1 (or whatever `bind` says).
final class TestServer: Sendable {
    let server: HTTPServer
    /// The first address the server listens on, with its real port.
    let address: SocketAddress
    private let stopped = Mutex(false)

    private init(server: HTTPServer, address: SocketAddress) {
        self.server = server
        self.address = address
    }

    /// Starts a server. `configure` adjusts the configuration (short timeouts, small limits).
    static func start(
        bind: [BindAddress] = [.hostPort(host: "127.0.0.1", port: 0)],
        responder: some HTTPResponder,
        configure: (inout HTTPServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        var configuration = HTTPServerConfiguration(bind: bind, eventLoops: 2)
        configure(&configuration)
        var logger = Logger(label: "carafe.http.test")
        logger.logLevel = .warning
        let server = HTTPServer(configuration: configuration, responder: responder, logger: logger)
        do {
            try await server.start()
        } catch {
            await server.shutdown()
            throw error
        }
        guard let address = server.localAddresses.first else {
            await server.shutdown()
            throw RawHTTPError.malformed("the server reports no local address")
        }
        return TestServer(server: server, address: address)
    }

    var port: Int { self.address.port ?? 0 }

    /// `http://127.0.0.1:PORT` (brackets for IPv6).
    var baseURL: String {
        switch self.address {
        case .v6: "http://[\(self.address.ipAddress ?? "::1")]:\(self.port)"
        default: "http://\(self.address.ipAddress ?? "127.0.0.1"):\(self.port)"
        }
    }

    /// Opens a raw connection to the server.
    func connect(timeout: Double = 5) async throws -> RawHTTPConnection {
        try await RawHTTPConnection.connect(to: self.address, timeout: timeout)
    }

    /// Shuts the server down (once; later calls return at once). A quick stop unless
    /// `closingIdle` is false: idle keep-alive connections close at once, so that a test's
    /// teardown does not wait out their keep-alive timeout.
    func shutdown(closingIdle: Bool = true) async {
        let first = self.stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        if first { await self.server.shutdown(closingIdle: closingIdle) }
    }
}

/// Starts a server, runs `body` with it, and shuts the server down whatever happens.
func withTestServer<T: Sendable>(
    bind: [BindAddress] = [.hostPort(host: "127.0.0.1", port: 0)],
    responder: some HTTPResponder = echoResponder,
    configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    _ body: (TestServer) async throws -> T
) async throws -> T {
    let server = try await TestServer.start(bind: bind, responder: responder, configure: configure)
    do {
        let result = try await body(server)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

// MARK: - Request text

/// A request head and body as raw text: `GET /path HTTP/1.1`, `Host`, the extra header lines, a blank line, the body.
func rawRequest(
    _ method: String = "GET",
    _ target: String = "/",
    version: String = "HTTP/1.1",
    headers: [String] = [],
    body: String = ""
) -> String {
    var text = "\(method) \(target) \(version)\r\nHost: localhost\r\n"
    for line in headers { text += line + "\r\n" }
    if !body.isEmpty
        && !headers.contains(where: { $0.lowercased().hasPrefix("content-length:") || $0.lowercased().hasPrefix("transfer-encoding:") })
    {
        text += "Content-Length: \(body.utf8.count)\r\n"
    }
    return text + "\r\n" + body
}

// MARK: - curl

struct CurlResult: Sendable {
    var exitCode: Int32
    /// Standard output and standard error together (`--stderr -`).
    var output: String
}

let curlPath = "/usr/bin/curl"

/// Runs curl with `arguments` (at most 15 s) and returns its exit code and output.
func curl(_ arguments: [String]) async throws -> CurlResult {
    try await offload {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curlPath)
        process.arguments = ["--max-time", "15", "--stderr", "-", "--no-progress-meter"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CurlResult(exitCode: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}

// MARK: - Environment

/// Whether a socket can be bound to `::1` here.
let ipv6LoopbackAvailable: Bool = {
    let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_addr = in6addr_loopback
    address.sin6_port = 0
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
    }
    return result == 0
}()

/// The name of the current thread (`NIO-ELT-…` on an event loop), from `/proc/thread-self/comm`.
func currentThreadName() -> String {
    let fd = open("/proc/thread-self/comm", O_RDONLY)
    guard fd >= 0 else { return "?" }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 64)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return "?" }
    return String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
