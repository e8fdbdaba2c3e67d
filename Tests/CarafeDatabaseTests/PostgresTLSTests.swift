import CarafeDatabase
import Foundation
import PostgresTestSupport
import ProcessTestSupport
import Testing

/// PostgreSQL over TLS: a server of its own started with `ssl = on` and a certificate made by
/// openssl, reached with each `sslmode` of libpq's, and refused with a wrong root certificate.
@Suite(.serialized) struct PostgresTLSTests {
    struct Row: Decodable { let ssl: Bool }

    /// Whether the connection that runs the query uses TLS, as the server sees it.
    static func usesTLS(_ url: String) async throws -> Bool {
        let db = try Database.open(url: url)
        defer { Task { await db.shutdown() } }
        let rows = try await db.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", as: Row.self)
        return rows.first?.ssl ?? false
    }

    @Test func eachSSLModeAsLibpqSpellsIt() async throws {
        let server = try PostgresServer(ssl: true)
        try server.start()
        defer { server.destroy() }
        let root = try #require(server.certificatePath)
        let wrong = try makeTemporaryDirectory("carafe-pg-wrong-root").appendingPathComponent("root.pem").path
        let made = try runProcess(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", wrong + ".key", "-out", wrong, "-days", "30", "-subj",
                "/CN=someone else",
            ]
        )
        try #require(made.status == 0, "\(made.output)")

        // No sslmode: as before, no TLS.
        #expect(try await Self.usesTLS(server.url) == false)
        #expect(try await Self.usesTLS(server.url + "?sslmode=disable") == false)
        #expect(try await Self.usesTLS(server.url + "?sslmode=prefer") == true)
        #expect(try await Self.usesTLS(server.url + "?sslmode=require") == true)
        #expect(try await Self.usesTLS(server.url + "?sslmode=verify-ca&sslrootcert=\(root)") == true)
        #expect(try await Self.usesTLS(server.url + "?sslmode=verify-full&sslrootcert=\(root)") == true)
        #expect(try await Self.usesTLS(server.url(host: "localhost") + "?sslmode=verify-full&sslrootcert=\(root)") == true)

        // A root certificate the server's does not chain to: refused, saying why.
        for mode in ["verify-ca", "verify-full", "require"] {
            let error = await #expect(throws: DatabaseUnavailable.self) {
                _ = try await Self.usesTLS(server.url + "?sslmode=\(mode)&sslrootcert=\(wrong)")
            }
            #expect(error?.reason.contains("its certificate was not accepted") == true, "\(String(describing: error))")
        }
        // A root file that is not there: the URL is refused before any connection, naming it.
        let missing = #expect(throws: DatabaseURLError.self) {
            try Database.open(url: server.url + "?sslmode=verify-ca&sslrootcert=/nonexistent/root.crt")
        }
        #expect(missing?.description.contains("sslrootcert=/nonexistent/root.crt") == true)
        let bad = #expect(throws: DatabaseURLError.self) { try Database.open(url: server.url + "?sslmode=sometimes") }
        #expect(bad?.description.contains("sslmode=sometimes is none of disable, allow, prefer, require, verify-ca, verify-full") == true)
    }

    @Test func requireAgainstAServerWithoutTLSIsRefused() async throws {
        let server = try PostgresServer.shared
        let error = await #expect(throws: DatabaseUnavailable.self) { _ = try await Self.usesTLS(server.url + "?sslmode=require") }
        #expect(error?.reason.contains("does not support TLS") == true, "\(String(describing: error))")
        // prefer falls back to a plain connection.
        #expect(try await Self.usesTLS(server.url + "?sslmode=prefer") == false)
    }
}
