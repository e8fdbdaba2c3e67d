import CarafeHTTP
import CarafeSQL
import Foundation

/// Where the database is and how many connections to keep, from libpq's variables (PGHOST,
/// PGPORT, PGUSER, PGPASSWORD, PGDATABASE) and PG_POOL, as TFB's peers read them.
struct DatabaseSettings {
    let url: String
    let pool: ConnectionPoolConfiguration

    init(environment: [String: String]) {
        let host = environment["PGHOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        let port = environment["PGPORT"].flatMap { Int($0) } ?? 5432
        let user = Self.encoded(environment["PGUSER"] ?? "postgres")
        let password = environment["PGPASSWORD"].map { ":" + Self.encoded($0) } ?? ""
        let database = Self.encoded(environment["PGDATABASE"] ?? "postgres")
        if host.hasPrefix("/") {
            self.url = "postgres://\(user)\(password)@localhost:\(port)/\(database)?host=\(host)"
        } else {
            self.url = "postgres://\(user)\(password)@\(host):\(port)/\(database)"
        }
        // PG_POOL is the connections in all (the peers' figure); Carafe's pool is per event
        // loop, one loop per usable core, so each loop gets its share.
        let total = max(1, environment["PG_POOL"].flatMap { Int($0) } ?? 56)
        let loops = max(1, usableCores())
        self.pool = ConnectionPoolConfiguration(maxConnections: max(1, (total + loops - 1) / loops))
    }

    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }
}
