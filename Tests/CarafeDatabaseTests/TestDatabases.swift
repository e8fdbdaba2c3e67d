import CarafeDatabase
import Foundation
import PostgresTestSupport
import Testing

/// The two databases every shared test runs against.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { self.rawValue }

    /// A fresh, empty database: a new SQLite file, or a new database on the shared PostgreSQL server.
    func makeDatabase(pool: ConnectionPoolConfiguration? = nil) async throws -> Database {
        let name = "t_\(UUID().uuidString.prefix(8).lowercased())"
        switch self {
        case .sqlite:
            let path = NSTemporaryDirectory() + "carafe-\(name).sqlite"
            return try Database.open(url: "sqlite:\(path)", pool: pool)
        case .postgres:
            let server = try PostgresServer.shared
            try await createDatabase(name, on: server)
            return try Database.open(url: server.url(database: name), pool: pool)
        }
    }
}

/// Creates database `name` on `server`; returns its URL.
@discardableResult
func createDatabase(_ name: String, on server: PostgresServer) async throws -> String {
    let admin = try Database.open(url: server.url)
    try await admin.execute("CREATE DATABASE \(identifier: name)")
    await admin.shutdown()
    return server.url(database: name)
}

/// A temporary directory with the given migration files.
func migrationsDirectory(_ files: [String: String]) throws -> String {
    let directory = NSTemporaryDirectory() + "carafe-migrations-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, text) in files {
        try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }
    return directory
}

/// The probe app's migrations, in the source tree.
let probeMigrations = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Examples/DatabaseProbe/migrations").path

struct Person: Codable, Equatable {
    let id: Int
    let name: String
    let age: Int?
    let score: Double
    let active: Bool
    let createdAt: Date
    let token: UUID
}
