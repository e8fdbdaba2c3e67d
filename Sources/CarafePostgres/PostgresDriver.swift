import CarafeSQL
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// PostgreSQL through postgres-nio: a pool of connections on each event loop (see
/// `ConnectionPool`), so a handler's queries run on its own loop's thread.
///
///     let db = Database(driver: try PostgresDriver(url: "postgres://app:secret@127.0.0.1:5432/app"))
///     let db = Database(driver: PostgresDriver(configuration: .init(host: "db", username: "app", password: "secret", database: "app", tls: .disable)))
public final class PostgresDriver: DatabaseDriver {
    public let configuration: PostgresConnection.Configuration
    public let pool: ConnectionPool<PostgresSQLConnection>
    public var dialect: SQLDialect { .postgres }

    public init(
        configuration: PostgresConnection.Configuration,
        pool: ConnectionPoolConfiguration = ConnectionPoolConfiguration(),
        logger: Logger = Logger(label: "carafe.postgres")
    ) {
        var configuration = configuration
        // The pool's own timeout covers the whole connect (TCP, startup, authentication); the
        // driver's, TCP only, is a backstop just behind it.
        configuration.options.connectTimeout = TimeAmount(pool.connectTimeout + .seconds(1))
        self.configuration = configuration
        let ids = Atomic<Int>(0)
        self.pool = ConnectionPool(configuration: pool, perEventLoop: true, logger: logger) { [configuration] loop in
            let id = ids.wrappingAdd(1, ordering: .relaxed).newValue
            do {
                let connection = try await PostgresConnection.connect(on: loop, configuration: configuration, id: id, logger: logger)
                return PostgresSQLConnection(connection, logger: logger)
            } catch {
                if let tls = Self.tlsFailure(error, configuration: configuration) { throw DatabaseUnavailable(tls) }
                let translated = PostgresErrors.translate(error, statement: PostgresErrors.connecting)
                throw translated is DatabaseError || translated is DatabaseUnavailable
                    ? translated : DatabaseUnavailable("could not connect to it")
            }
        }
    }

    /// From a URL: `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (`postgresql://` too; the
    /// port defaults to 5432). `?host=/run/postgresql` connects through the Unix socket in that
    /// directory instead. Other parameters (the pool's, read by `Database.open(url:)`) are ignored here.
    /// TLS as libpq's `sslmode` and `sslrootcert` say (see `PostgresTLSMode`); without `sslmode`,
    /// none (`disable`), as before TLS support.
    public convenience init(
        url: String,
        pool: ConnectionPoolConfiguration = ConnectionPoolConfiguration(),
        logger: Logger = Logger(label: "carafe.postgres")
    ) throws {
        self.init(configuration: try Self.configuration(url: url), pool: pool, logger: logger)
    }

    public func withConnection<T>(_ body: (any SQLConnection) async throws -> T) async throws -> T {
        try await self.pool.withConnection { try await body($0) }
    }

    public func shutdown() async {
        await self.pool.shutdown()
    }

    /// The connection configuration a `postgres://` URL describes.
    public static func configuration(url text: String) throws -> PostgresConnection.Configuration {
        guard let url = URLComponents(string: text), url.scheme == "postgres" || url.scheme == "postgresql" else {
            throw DatabaseURLError("not a postgres:// URL: \(Self.redacted(text))")
        }
        let query = Dictionary((url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let tlsMode: PostgresTLSMode
        do {
            tlsMode = try PostgresTLSMode(query: query)
        } catch let error as DatabaseURLError {
            throw DatabaseURLError("\(error.description) in \(Self.redacted(text))")
        }
        let username = url.percentEncodedUser.map { $0.removingPercentEncoding ?? $0 } ?? "postgres"
        let password = url.percentEncodedPassword.map { $0.removingPercentEncoding ?? $0 }
        let database = String(url.path.drop { $0 == "/" })
        let port = url.port ?? 5432
        if let directory = query["host"], directory.hasPrefix("/") {
            // A Unix socket is local: libpq uses no TLS on one whatever sslmode says.
            return PostgresConnection.Configuration(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)",
                username: username,
                password: password,
                database: database.isEmpty ? nil : database
            )
        }
        guard let host = url.host, !host.isEmpty else { throw DatabaseURLError("no host in \(Self.redacted(text))") }
        return PostgresConnection.Configuration(
            host: host,
            port: port,
            username: username,
            password: password,
            database: database.isEmpty ? nil : database,
            tls: try tlsMode.tls()
        )
    }

    /// A clear reason when connecting failed because of TLS: a refused certificate, a server
    /// without TLS for a mode that requires it.
    static func tlsFailure(_ error: any Error, configuration: PostgresConnection.Configuration) -> String? {
        if let error = error as? PSQLError, error.code == .sslUnsupported {
            return "the server does not support TLS, which sslmode requires"
        }
        let text = String(reflecting: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("handshakeFailed") || text.contains("unableToValidateCertificate") {
            return
                "TLS to the server failed: its certificate was not accepted (check sslrootcert and, with verify-full, the host name): \(text)"
        }
        return nil
    }

    /// The URL without its password, for messages.
    static func redacted(_ text: String) -> String {
        text.replacingOccurrences(of: #"(://[^:/@]*:)[^@]*@"#, with: "$1***@", options: .regularExpression)
    }
}
