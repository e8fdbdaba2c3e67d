import CarafeCore
import Foundation

/// Applies a directory of SQL files to a database, each once, in order, and records them in
/// the `carafe_migrations` table.
///
/// Files are named `NNN_description.sql` (`001_users.sql`, `002_posts.sql`) and applied in
/// the order of their number. Where the databases' SQL differs, `NNN_description.postgres.sql`
/// and `NNN_description.sqlite.sql` are each used only on their database, and recorded under
/// the same name (`NNN_description`). Each runs in a transaction of its own, with the row that records
/// it: a file that fails leaves nothing behind, and the next run starts again from it. Files
/// must not contain BEGIN or COMMIT themselves.
///
/// Several processes may migrate at once (every worker at start, or a `migrate` command during
/// a deploy): on PostgreSQL they take turns on an advisory lock; on SQLite each file's
/// transaction takes the write lock (`BEGIN IMMEDIATE`) and checks again whether it is applied.
public struct Migrator: Sendable {
    /// A migration file.
    public struct Migration: Sendable, Hashable {
        /// The file's name without `.sql`, as recorded: `001_users`.
        public let name: String
        public let number: Int
        public let url: URL
    }

    /// The advisory lock's key: the bytes of "carafe m".
    static let lockKey: Int64 = 0x6361_7261_6665_206D

    public let database: Database
    public let directory: URL
    public var logger: Logger

    public init(database: Database, directory: String, logger: Logger = Logger(label: "carafe.migrate")) {
        self.database = database
        self.directory = URL(fileURLWithPath: directory)
        self.logger = logger
    }

    /// The migration files, in order. Throws for a `.sql` file not named `NNN_name.sql` and for
    /// two files with one number, so that none is silently skipped.
    public func migrations() throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: self.directory.path)
        } catch {
            throw MigrationError("cannot read the migrations directory \(self.directory.path): \(error.localizedDescription)")
        }
        return try Self.plan(files: names, in: self.directory, for: self.database.dialect)
    }

    /// The migrations that the files named `files` (a directory's entries) make for `dialect`,
    /// in the order they apply: by number, then name. Reads no file, so the rules are tested
    /// without a directory.
    ///
    /// - Only names ending in `.sql` count (`README.md`, `001_users.sql~` are ignored).
    /// - `NNN_description.postgres.sql` and `NNN_description.sqlite.sql` count only on their
    ///   database, as `NNN_description`.
    /// - Throws, naming the file, for a `.sql` file not named `NNN_description.sql` (no number,
    ///   no description, a sign, another database's suffix such as `.mysql.sql`), and naming
    ///   both files for two with one number (`001_users.sql` and `1_accounts.sql`, or
    ///   `001_users.sql` beside `001_users.postgres.sql` on PostgreSQL).
    public static func plan(files: [String], in directory: URL, for dialect: SQLDialect) throws -> [Migration] {
        var migrations: [Migration] = []
        let dialects: [SQLDialect: String] = [.postgres: ".postgres", .sqlite: ".sqlite"]
        let example =
            "migration files are named NNN_description.sql (or NNN_description.postgres.sql, "
            + "NNN_description.sqlite.sql for one database), e.g. 001_create_users.sql"
        for file in files where file.hasSuffix(".sql") {
            var name = String(file.dropLast(4))
            if let (fileDialect, suffix) = dialects.first(where: { name.hasSuffix($0.value) }) {
                guard fileDialect == dialect else { continue }
                name = String(name.dropLast(suffix.count))
            }
            guard let underscore = name.firstIndex(of: "_"),
                !name[..<underscore].isEmpty, name[..<underscore].allSatisfy({ $0.isASCII && $0.isNumber }),
                let number = Int(name[..<underscore]),
                name.index(after: underscore) < name.endIndex
            else {
                throw MigrationError("\(file): \(example)")
            }
            if let dot = name.lastIndex(of: ".") {
                throw MigrationError(
                    "\(file): unknown database suffix \(name[dot...]).sql (known: .postgres.sql, .sqlite.sql); \(example)"
                )
            }
            migrations.append(Migration(name: name, number: number, url: directory.appendingPathComponent(file)))
        }
        migrations.sort { ($0.number, $0.url.lastPathComponent) < ($1.number, $1.url.lastPathComponent) }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.number == b.number {
            throw MigrationError(
                "\(a.url.lastPathComponent) and \(b.url.lastPathComponent) have the same number (\(a.number)): give each migration a number of its own"
            )
        }
        return migrations
    }

    /// Applies the migrations not applied yet; returns the names of those it applied.
    @discardableResult
    public func migrate() async throws -> [String] {
        let migrations = try self.migrations()
        let dialect = self.database.dialect
        return try await self.database.withConnection { connection in
            if dialect == .postgres {
                // Session-level: held until unlocked, or until the connection ends.
                try await connection.execute("SELECT pg_advisory_lock(\(Self.lockKey))")
            }
            do {
                let applied = try await self.apply(migrations, on: connection)
                if dialect == .postgres { try await connection.execute("SELECT pg_advisory_unlock(\(Self.lockKey))") }
                return applied
            } catch {
                if dialect == .postgres { try? await connection.execute("SELECT pg_advisory_unlock(\(Self.lockKey))") }
                throw error
            }
        }
    }

    private func apply(_ migrations: [Migration], on connection: Transaction) async throws -> [String] {
        let dialect = self.database.dialect
        let timestamp: SQL = dialect == .postgres ? "TIMESTAMPTZ NOT NULL DEFAULT now()" : "TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP"
        try await connection.execute("CREATE TABLE IF NOT EXISTS carafe_migrations (name TEXT PRIMARY KEY, applied_at \(timestamp))")
        var applied: [String] = []
        for migration in migrations {
            let script: String
            do {
                script = try String(contentsOf: migration.url, encoding: .utf8)
            } catch {
                throw MigrationError("cannot read \(migration.url.path): \(error.localizedDescription)")
            }
            let done = try await Transaction.run(on: connection.connection, dialect: dialect) { tx in
                // Checked inside the transaction: on SQLite, another process may have applied it
                // while this one waited for the write lock.
                if try await tx.first("SELECT name FROM carafe_migrations WHERE name = \(migration.name)") != nil { return false }
                do {
                    try await tx.runScript(script)
                } catch {
                    throw MigrationError("\(migration.name).sql failed, nothing of it was applied: \(String(reflecting: error))")
                }
                try await tx.execute("INSERT INTO carafe_migrations (name) VALUES (\(migration.name))")
                return true
            }
            if done {
                self.logger.notice("applied migration \(migration.name)")
                applied.append(migration.name)
            }
        }
        return applied
    }
}

/// A migration that cannot be read or applied: which file, and why.
public struct MigrationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension Database {
    /// Applies the migration files in `directory` not applied yet (see `Migrator`); returns
    /// their names.
    @discardableResult
    public func migrate(directory: String, logger: Logger = Logger(label: "carafe.migrate")) async throws -> [String] {
        try await Migrator(database: self, directory: directory, logger: logger).migrate()
    }
}
