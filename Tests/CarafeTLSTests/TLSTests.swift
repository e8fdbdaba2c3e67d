import Foundation
import ProcessTestSupport
import Testing

/// `hello` over TLS and HTTP/2, as clients reach it: curl (`--http2`, `--http1.1`,
/// `--http2-prior-knowledge`), h2load, openssl s_client, Python's `h2` with hand-made frames
/// and `websockets` over wss, with certificates made by openssl for each test.
@Suite(.serialized) struct TLSTests {
    static let executable = builtExecutable("hello")

    /// A certificate for localhost and 127.0.0.1 with its key, made by openssl in a new folder.
    struct Certificate {
        let directory: URL
        let cert: String
        let key: String

        init(commonName: String = "localhost", days: Int = 365, in directory: URL? = nil, name: String = "server") throws {
            self.directory = try directory ?? makeTemporaryDirectory("carafe-tls")
            self.cert = self.directory.appendingPathComponent("\(name).pem").path
            self.key = self.directory.appendingPathComponent("\(name)-key.pem").path
            let (status, output) = try runProcess(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", self.cert,
                    "-days", String(days), "-subj", "/CN=\(commonName)", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                ]
            )
            guard status == 0 else { throw ServerDidNotStart(output: "openssl: \(output)") }
        }
    }

    static func startServer(_ arguments: [String]) throws -> ServerProcess {
        try ServerProcess(Self.executable, ["serve", "--log-level", "info"] + arguments)
    }

    /// The ports of every `serving on` line, in order.
    static func ports(_ server: ServerProcess) -> [Int] {
        server.output.split(separator: "\n").filter { $0.contains("serving on") }.compactMap { line in
            line.split(separator: "(").first?.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        }
    }

    static func curl(_ arguments: [String]) throws -> String {
        try ProcessTestSupport.curl(arguments)
    }

    /// Runs the Python HTTP/2 probe (below) and returns its JSON answer.
    static func probe(_ test: String, port: Int, tls: Bool, cafile: String, _ parameter: Int = 0) throws -> [String: Any] {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-h2probe-\(UUID()).py")
        try Self.h2probe.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let (status, output) = try runProcess(
            "/usr/bin/env",
            ["python3", script.path, test, String(port), tls ? "tls" : "plain", cafile, String(parameter)]
        )
        let line = output.split(separator: "\n").last.map(String.init) ?? ""
        guard status == 0, let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            Issue.record("the h2 probe failed: \(output)")
            return [:]
        }
        return object
    }

    @Test func httpsServesHTTP2AndHTTP1ByALPNWithTheSameRoutesAndAccessLog() throws {
        let certificate = try Certificate()
        let log = certificate.directory.appendingPathComponent("access.log").path
        let server = try Self.startServer([
            "--bind", "127.0.0.1:0", "--certfile", certificate.cert, "--keyfile", certificate.key, "--access-logfile", log,
        ])
        #expect(server.output.contains("serving on https://127.0.0.1:"))
        let base = "https://localhost:\(server.port)"
        let tls = ["--cacert", certificate.cert, "--resolve", "localhost:\(server.port):127.0.0.1"]
        #expect(try Self.curl(tls + ["--http2", "-w", " %{http_version}", "\(base)/plaintext"]) == "Hello, World! 2")
        #expect(try Self.curl(tls + ["--http1.1", "-w", " %{http_version}", "\(base)/json"]) == #"{"message":"Hello, World!"} 1.1"#)
        #expect(
            try Self.curl(tls + ["--http2", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "\(base)/stream?bytes=3000000"])
                == "200 3000000"
        )
        let upload = certificate.directory.appendingPathComponent("upload").path
        try String(repeating: "y", count: 200_000).write(toFile: upload, atomically: true, encoding: .utf8)
        #expect(try Self.curl(tls + ["--http2", "-X", "POST", "--data-binary", "@\(upload)", "\(base)/upload"]) == "200000")
        #expect(try Self.curl(tls + ["--http2", "-o", "/dev/null", "-w", "%{http_code}", "\(base)/io?ms=abc"]) == "400")
        // Plain HTTP on a TLS port gets no answer; TLS 1.1 is refused.
        #expect(try Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(server.port)/plaintext"]) == "000")
        #expect(
            try Self.curl(tls + ["--tlsv1.1", "--tls-max", "1.1", "-o", "/dev/null", "-w", "%{http_code}", "\(base)/plaintext"]) == "000"
        )
        kill(server.pid, SIGTERM)
        #expect(server.waitForExit(timeout: 10))
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.contains { $0.contains(#""GET /plaintext HTTP/2.0" 200 13"#) }, "\(lines)")
        #expect(lines.contains { $0.contains(#""GET /json HTTP/1.1" 200"#) })
        #expect(lines.contains { $0.contains(#""GET /stream?bytes=3000000 HTTP/2.0" 200 3000000"#) })
        #expect(lines.contains { $0.contains(#""GET /io?ms=abc HTTP/2.0" 400"#) })
    }

    @Test func eachBindIsTLSOrPlainAndH2CServesPriorKnowledgeBesideHTTP1() throws {
        let certificate = try Certificate()
        let server = try Self.startServer([
            "--bind", "https://127.0.0.1:0", "--bind", "127.0.0.1:0", "--h2c", "--certfile", certificate.cert, "--keyfile", certificate.key,
        ])
        let ports = Self.ports(server)
        try #require(ports.count == 2, "\(server.output)")
        #expect(server.output.contains("serving on https://127.0.0.1:\(ports[0])"))
        #expect(server.output.contains("serving on http://127.0.0.1:\(ports[1])"))
        let tls = ["--cacert", certificate.cert, "--resolve", "localhost:\(ports[0]):127.0.0.1"]
        #expect(try Self.curl(tls + ["-w", " %{http_version}", "https://localhost:\(ports[0])/plaintext"]) == "Hello, World! 2")
        #expect(
            try Self.curl(["--http2-prior-knowledge", "-w", " %{http_version}", "http://127.0.0.1:\(ports[1])/plaintext"])
                == "Hello, World! 2"
        )
        #expect(
            try Self.curl(["--http1.1", "-w", " %{http_version}", "http://127.0.0.1:\(ports[1])/json"])
                == #"{"message":"Hello, World!"} 1.1"#
        )
        // h2load: many streams on a few connections, over TLS and h2c.
        for url in ["https://127.0.0.1:\(ports[0])/plaintext", "http://127.0.0.1:\(ports[1])/json"] {
            let (status, output) = try runProcess("/usr/bin/h2load", ["-n", "400", "-c", "4", "-m", "10", url])
            #expect(status == 0)
            #expect(output.contains("400 succeeded, 0 failed"), "\(output)")
        }
        // nghttp reads the SETTINGS the server advertises.
        let (_, settings) = try runProcess("/usr/bin/nghttp", ["-nv", "http://127.0.0.1:\(ports[1])/plaintext"])
        #expect(settings.contains("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100"), "\(settings)")
    }

    @Test func withoutH2CAPlainBindSpeaksHTTP1Only() throws {
        let server = try Self.startServer(["--bind", "127.0.0.1:0"])
        #expect(
            try Self.curl(["--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(server.port)/plaintext"])
                != "200"
        )
        #expect(try Self.curl(["http://127.0.0.1:\(server.port)/plaintext"]) == "Hello, World!")
    }

    @Test func aBadCertificateOrKeyStopsTheMasterBeforeAnyWorkerNamingTheFile() throws {
        let certificate = try Certificate()
        let other = try Certificate(in: certificate.directory, name: "other")
        let missing = certificate.directory.appendingPathComponent("missing.pem").path
        let cases: [([String], String)] = [
            (["--certfile", missing, "--keyfile", certificate.key], "certificate file (--certfile) '\(missing)' does not exist"),
            (
                ["--certfile", certificate.cert, "--keyfile", other.key],
                "key file (--keyfile) '\(other.key)' does not match the certificate in \(certificate.cert)"
            ),
            (
                ["--certfile", certificate.key, "--keyfile", certificate.key],
                "certificate file (--certfile) '\(certificate.key)' is not a PEM certificate"
            ),
            (["--certfile", certificate.cert], "need --keyfile"),
            (["--bind", "https://127.0.0.1:0"], "need --certfile"),
            (["--certfile", certificate.cert, "--keyfile", certificate.key, "--cert-reqs", "maybe"], "--cert-reqs 'maybe'"),
        ]
        for (arguments, message) in cases {
            let (status, output) = try runProcess(Self.executable.path, ["serve", "--workers", "2", "--log-level", "info"] + arguments)
            #expect(status != 0, "\(arguments)")
            #expect(output.contains(message), "\(arguments): \(output)")
            #expect(!output.contains("worker 1"), "a worker started: \(output)")
        }
    }

    @Test func aCertificateNearItsExpiryIsWarnedOf() throws {
        let certificate = try Certificate(days: 5)
        let server = try Self.startServer(["--bind", "127.0.0.1:0", "--certfile", certificate.cert, "--keyfile", certificate.key])
        #expect(server.output.contains("warning"))
        #expect(server.output.contains("the certificate of \(certificate.cert) expires on"), "\(server.output)")
    }

    @Test func clientCertificatesAreRequiredWithCertReqsRequired() throws {
        let server = try Certificate()
        let client = try Certificate(commonName: "client", in: server.directory, name: "client")
        let process = try Self.startServer([
            "--bind", "127.0.0.1:0", "--certfile", server.cert, "--keyfile", server.key, "--ca-certs", client.cert, "--cert-reqs",
            "required",
        ])
        let tls = ["--cacert", server.cert, "--resolve", "localhost:\(process.port):127.0.0.1"]
        let url = "https://localhost:\(process.port)/plaintext"
        #expect(try Self.curl(tls + ["-o", "/dev/null", "-w", "%{http_code}", url]) == "000")
        #expect(try Self.curl(tls + ["--cert", client.cert, "--key", client.key, url]) == "Hello, World!")
    }

    @Test func sighupPutsARenewedCertificateLiveWithNoFailedRequest() async throws {
        let first = try Certificate(commonName: "first")
        let server = try Self.startServer(["--bind", "127.0.0.1:0", "--workers", "2", "--certfile", first.cert, "--keyfile", first.key])
        #expect(server.waitForOutput("worker 2 .*serving on", timeout: 20))
        let port = server.port
        func subject() throws -> String {
            let (_, output) = try runProcess(
                "/bin/sh",
                [
                    "-c",
                    "openssl s_client -connect 127.0.0.1:\(port) -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -subject",
                ]
            )
            return output
        }
        #expect(try subject().contains("CN = first"))
        // Renew in place, then HUP while a client keeps asking over new TLS connections.
        _ = try Certificate(commonName: "second", in: first.directory, name: "renewed")
        let tally = LoopingCurl(arguments: ["-k", "-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:\(port)/plaintext"])
        #expect(eventually(timeout: 10) { tally.current.succeeded >= 3 }, "the client's requests do not succeed")
        try FileManager.default.removeItem(atPath: first.cert)
        try FileManager.default.removeItem(atPath: first.key)
        try FileManager.default.moveItem(atPath: first.directory.appendingPathComponent("renewed.pem").path, toPath: first.cert)
        try FileManager.default.moveItem(atPath: first.directory.appendingPathComponent("renewed-key.pem").path, toPath: first.key)
        kill(server.pid, SIGHUP)
        #expect(server.waitForOutput("worker 4 .*serving on", timeout: 20), "\(server.output)")
        // The client goes on until the old workers have stopped accepting (a new connection
        // gets the renewed certificate) and a few more of its connections were answered.
        #expect(eventually(timeout: 10) { (try? subject().contains("CN = second")) == true }, "the renewed certificate is not served")
        let atSwitch = tally.current.succeeded
        #expect(eventually(timeout: 10) { tally.current.succeeded >= atSwitch + 5 })
        let (succeeded, failed) = tally.stop()
        #expect(succeeded > 10)
        #expect(failed == 0, "\(failed) requests failed during the reload")
        #expect(try subject().contains("CN = second"))
    }

    @Test func gracefulStopSendsGOAWAYAndLetsTheStreamInFlightFinish() async throws {
        let certificate = try Certificate()
        let server = try Self.startServer(["--bind", "127.0.0.1:0", "--certfile", certificate.cert, "--keyfile", certificate.key])
        let tls = ["--cacert", certificate.cert, "--resolve", "localhost:\(server.port):127.0.0.1"]
        let url = "https://localhost:\(server.port)/io?ms=2000"
        async let slow = Task.detached { try Self.curl(tls + ["--http2", "-w", " %{http_code} %{http_version}", url]) }.value
        try await Task.sleep(for: .milliseconds(700))
        kill(server.pid, SIGTERM)
        #expect(try await slow == "ok 200 2")
        #expect(server.waitForExit(timeout: 10))
        #expect(server.process.terminationStatus == 0)
    }

    @Test func serverSentEventsAndWebSocketsOverTLS() throws {
        let certificate = try Certificate()
        let server = try Self.startServer(["--bind", "127.0.0.1:0", "--certfile", certificate.cert, "--keyfile", certificate.key])
        let tls = ["--cacert", certificate.cert, "--resolve", "localhost:\(server.port):127.0.0.1"]
        // SSE over h2: the first comment arrives, the stream stays open until curl gives up.
        let events = try runProcess(
            "/usr/bin/curl",
            ["-s", "-N", "--http2", "--max-time", "2", "-w", "|%{http_version}"] + tls + ["https://localhost:\(server.port)/sse"]
        ).output
        #expect(events.hasPrefix(": hello"), "\(events)")
        #expect(events.hasSuffix("|2"))
        // WebSocket over TLS (HTTP/1.1 by ALPN): an echo.
        let script = """
            import asyncio, ssl, websockets
            async def main():
                ctx = ssl.create_default_context(cafile="\(certificate.cert)")
                async with websockets.connect("wss://localhost:\(server.port)/ws", ssl=ctx) as ws:
                    await ws.send("over wss")
                    print(await ws.recv())
            asyncio.run(main())
            """
        let (status, output) = try runProcess("/usr/bin/env", ["python3", "-c", script])
        #expect(status == 0, "\(output)")
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "over wss")
    }

    @Test(arguments: [true, false]) func http2LimitsAndDefencesWithHandMadeFrames(overTLS: Bool) throws {
        let certificate = try Certificate()
        let server = try Self.startServer(
            overTLS
                ? ["--bind", "127.0.0.1:0", "--certfile", certificate.cert, "--keyfile", certificate.key]
                : ["--bind", "127.0.0.1:0", "--h2c"]
        )
        let port = server.port
        let settings = try Self.probe("settings", port: port, tls: overTLS, cafile: certificate.cert)
        #expect(settings["max_concurrent_streams"] as? Int == 100)
        #expect(settings["max_header_list_size"] as? Int == 16384)
        // CVE-2023-44487: streams opened and reset at once, by the hundred: cut off with
        // ENHANCE_YOUR_CALM (11) and the connection closed.
        let reset = try Self.probe("rapid-reset", port: port, tls: overTLS, cafile: certificate.cert)
        #expect(reset["closed"] as? Bool == true, "\(reset)")
        #expect(reset["goaway"] as? String == "11", "\(reset)")
        // A window that stays shut holds the body back; once open, all of it comes.
        let window = try Self.probe("shut-window", port: port, tls: overTLS, cafile: certificate.cert)
        #expect(window["status"] as? [String] == ["200"])
        #expect(window["held"] as? Int == 0)
        #expect(window["total"] as? Int == 1_000_000)
        // A field past the field limit: 431 naming it; a header list past SETTINGS: refused.
        let headers = try Self.probe("big-header", port: port, tls: overTLS, cafile: certificate.cert)
        #expect(headers["status"] as? [String] == ["431"])
        #expect((headers["body"] as? String ?? "").contains("Header field 'x-big' is 9007 bytes; the limit is 8190."))
        #expect(
            (headers["oversized"] as? [String] ?? []).contains { ["ConnectionTerminated", "StreamReset", "closed"].contains($0) },
            "\(headers)"
        )
        // The server still serves.
        #expect(
            try Self.curl(
                overTLS
                    ? ["-k", "https://127.0.0.1:\(port)/plaintext"] : ["--http2-prior-knowledge", "http://127.0.0.1:\(port)/plaintext"]
            ) == "Hello, World!"
        )
    }

    static let h2probe = #"""
        import socket, ssl, sys, time, json
        import h2.connection, h2.config, h2.events, h2.settings, h2.exceptions

        def connect(port, tls, cafile):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if tls:
                ctx = ssl.create_default_context(cafile=cafile)
                ctx.set_alpn_protocols(["h2"])
                sock = ctx.wrap_socket(sock, server_hostname="localhost")
                assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
            return sock

        def events(conn, sock, until, timeout=5):
            """Reads until `until(events_so_far)` is true, the socket closes, or timeout; returns (events, closed)."""
            got, deadline = [], time.time() + timeout
            sock.settimeout(0.2)
            while time.time() < deadline:
                try:
                    data = sock.recv(65536)
                except (socket.timeout, TimeoutError):
                    if until(got): return got, False
                    continue
                except (ConnectionResetError, ssl.SSLError, OSError):
                    return got, True
                if not data:
                    return got, True
                try:
                    got += conn.receive_data(data)
                except h2.exceptions.ProtocolError as e:
                    got.append(e)
                out = conn.data_to_send()
                if out:
                    try: sock.sendall(out)
                    except OSError: return got, True
                if until(got): return got, False
            return got, False

        def start(port, tls, cafile, settings=None):
            sock = connect(port, tls, cafile)
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
            conn.initiate_connection()
            if settings: conn.update_settings(settings)
            sock.sendall(conn.data_to_send())
            events(conn, sock, lambda e: any(isinstance(x, h2.events.RemoteSettingsChanged) for x in e))
            return sock, conn

        def headers(path, extra=()):
            return [(":method", "GET"), (":path", path), (":scheme", "https"), (":authority", "localhost")] + list(extra)

        def main():
            test, port, tls, cafile, parameter = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "tls", sys.argv[4], int(sys.argv[5])
            result = {}
            if test == "settings":
                sock, conn = start(port, tls, cafile)
                result["max_concurrent_streams"] = conn.remote_settings.max_concurrent_streams
                result["max_header_list_size"] = conn.remote_settings.max_header_list_size
                result["initial_window_size"] = conn.remote_settings.initial_window_size
            elif test == "rapid-reset":
                sock, conn = start(port, tls, cafile)
                sent, closed, goaway = 0, False, None
                for i in range(parameter or 1000):
                    sid = conn.get_next_available_stream_id()
                    try:
                        conn.send_headers(sid, headers("/io?ms=1000"), end_stream=True)
                        conn.reset_stream(sid)
                        sock.sendall(conn.data_to_send())
                        sent += 1
                    except Exception:
                        closed = True
                        break
                evs, c = events(conn, sock, lambda e: False, timeout=3)
                closed = closed or c
                for e in evs:
                    if isinstance(e, h2.events.ConnectionTerminated): goaway = str(e.error_code)
                result.update(sent=sent, closed=closed, goaway=goaway)
            elif test == "shut-window":
                # Stream window 0: the server may send the response head but no body byte until we open it.
                sock, conn = start(port, tls, cafile, {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
                sid = conn.get_next_available_stream_id()
                conn.send_headers(sid, headers("/stream?bytes=1000000"), end_stream=True)
                sock.sendall(conn.data_to_send())
                evs, _ = events(conn, sock, lambda e: False, timeout=1.5)
                held = sum(len(e.data) for e in evs if isinstance(e, h2.events.DataReceived))
                status = [dict(e.headers).get(":status") for e in evs if isinstance(e, h2.events.ResponseReceived)]
                conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
                conn.increment_flow_control_window(4 << 20)
                sock.sendall(conn.data_to_send())
                total = [0]
                def done(e):
                    for x in e[len(done.seen):]:
                        if isinstance(x, h2.events.DataReceived):
                            total[0] += len(x.data)
                            conn.acknowledge_received_data(x.flow_controlled_length, sid)
                    done.seen = list(e)
                    return any(isinstance(x, h2.events.StreamEnded) for x in e)
                done.seen = []
                evs2, _ = events(conn, sock, done, timeout=10)
                result.update(status=status, held=held, total=total[0])
            elif test == "big-header":
                sock, conn = start(port, tls, cafile)
                sid = conn.get_next_available_stream_id()
                conn.send_headers(sid, headers("/plaintext", [("x-big", "a" * 9000)]), end_stream=True)
                sock.sendall(conn.data_to_send())
                body = []
                evs, _ = events(conn, sock, lambda e: any(isinstance(x, h2.events.StreamEnded) for x in e))
                result["status"] = [dict(e.headers).get(":status") for e in evs if isinstance(e, h2.events.ResponseReceived)]
                result["body"] = b"".join(e.data for e in evs if isinstance(e, h2.events.DataReceived)).decode()
                # A header list past the advertised limit: the stream or the connection is refused.
                sid = conn.get_next_available_stream_id()
                conn.send_headers(sid, headers("/plaintext", [("x-h%d" % i, "b" * 1000) for i in range(40)]), end_stream=True)
                sock.sendall(conn.data_to_send())
                evs, closed = events(conn, sock, lambda e: any(isinstance(x, (h2.events.StreamReset, h2.events.ConnectionTerminated, h2.events.StreamEnded)) for x in e))
                result["oversized"] = [type(e).__name__ for e in evs if isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated, h2.events.ResponseReceived))] + (["closed"] if closed else [])
            elif test == "streams":
                # `parameter` slow requests at once, maybe past the advertised limit (h2 itself would
                # refuse to open those, so its count of open streams is hidden from it).
                sock, conn = start(port, tls, cafile)
                h2.connection.H2Connection.open_outbound_streams = property(lambda self: 0)
                sids = []
                for i in range(parameter):
                    sid = conn.get_next_available_stream_id()
                    conn.send_headers(sid, headers("/io?ms=1500"), end_stream=True)
                    sids.append(sid)
                sock.sendall(conn.data_to_send())
                finished = lambda e: len([x for x in e if isinstance(x, (h2.events.StreamEnded, h2.events.StreamReset))]) >= len(sids)
                evs, closed = events(conn, sock, finished, timeout=10)
                result["ok"] = len([e for e in evs if isinstance(e, h2.events.ResponseReceived) and dict(e.headers).get(":status") == "200"])
                result["reset"] = [int(e.error_code) for e in evs if isinstance(e, h2.events.StreamReset)]
                result["goaway"] = [int(e.error_code) for e in evs if isinstance(e, h2.events.ConnectionTerminated)]
            elif test == "header-list":
                # A header list of about `parameter` bytes in fields of 1000 bytes, each under the field limit.
                sock, conn = start(port, tls, cafile)
                sid = conn.get_next_available_stream_id()
                conn.send_headers(sid, headers("/plaintext", [("x-h%d" % i, "b" * 990) for i in range(parameter // 1000)]), end_stream=True)
                sock.sendall(conn.data_to_send())
                evs, closed = events(conn, sock, lambda e: any(isinstance(x, (h2.events.StreamReset, h2.events.ConnectionTerminated, h2.events.StreamEnded)) for x in e))
                result["status"] = [dict(e.headers).get(":status") for e in evs if isinstance(e, h2.events.ResponseReceived)]
                result["refused"] = [type(e).__name__ for e in evs if isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated))] + (["closed"] if closed else [])
            elif test == "overrun-window":
                # `parameter` body bytes at once, past the stream window the server advertised.
                sock, conn = start(port, tls, cafile)
                sid = conn.get_next_available_stream_id()
                conn.send_headers(sid, [(":method", "POST"), (":path", "/upload"), (":scheme", "https"), (":authority", "localhost")])
                result["advertised"] = conn.local_flow_control_window(sid)
                conn.streams[sid].outbound_flow_control_window = 1 << 30
                conn.outbound_flow_control_window = 1 << 30
                for offset in range(0, parameter, 16384):
                    conn.send_data(sid, b"z" * min(16384, parameter - offset), end_stream=offset + 16384 >= parameter)
                sock.sendall(conn.data_to_send())
                evs, closed = events(conn, sock, lambda e: any(isinstance(x, (h2.events.StreamReset, h2.events.ConnectionTerminated, h2.events.StreamEnded)) for x in e))
                result["status"] = [dict(e.headers).get(":status") for e in evs if isinstance(e, h2.events.ResponseReceived)]
                result["errors"] = [int(e.error_code) for e in evs if isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated))]
            elif test == "idle":
                # No stream at all: how long until the server's GOAWAY and close. The server's GOAWAY
                # comes with a PING whose ack lets it close (NIOHTTP2's two-step GOAWAY); h2 would
                # refuse a PING after a GOAWAY, so it is taught to answer it, as curl and browsers do.
                closed_state = h2.connection.ConnectionState.CLOSED
                for input in (h2.connection.ConnectionInputs.RECV_PING, h2.connection.ConnectionInputs.SEND_PING):
                    h2.connection.H2ConnectionStateMachine._transitions[(closed_state, input)] = (None, closed_state)
                began = time.time()
                sock, conn = start(port, tls, cafile)
                evs, closed = events(conn, sock, lambda e: False, timeout=parameter)
                result["goaway"] = [str(e.error_code) for e in evs if isinstance(e, h2.events.ConnectionTerminated)]
                result["closed"] = closed
                result["after"] = round(time.time() - began, 2)
            print(json.dumps(result))

        main()
        """#
}

/// curl, again and again on a thread of its own, counting 200s and anything else.
final class LoopingCurl: @unchecked Sendable {
    private let lock = NSLock()
    private var succeeded = 0
    private var failed = 0
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    init(arguments: [String]) {
        Thread.detachNewThread { [self] in
            while self.lock.withLock({ self.running }) {
                let code = (try? curl(arguments)) ?? ""
                self.lock.withLock { if code == "200" { self.succeeded += 1 } else { self.failed += 1 } }
            }
            self.done.signal()
        }
    }

    /// The counts so far.
    var current: (succeeded: Int, failed: Int) { self.lock.withLock { (self.succeeded, self.failed) } }

    /// Stops after the request in flight and returns the counts.
    func stop() -> (succeeded: Int, failed: Int) {
        self.lock.withLock { self.running = false }
        self.done.wait()
        return self.lock.withLock { (self.succeeded, self.failed) }
    }
}
