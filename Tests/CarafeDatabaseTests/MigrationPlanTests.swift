import CarafeSQL
import Foundation
import Testing

/// `Migrator.plan`: which files of a directory are migrations, for which database, in which
/// order, and the bad names refused with the file named. No directory, no database.
@Suite struct MigrationPlanTests {
    static let directory = URL(fileURLWithPath: "/app/migrations")

    static func names(_ files: [String], _ dialect: SQLDialect = .sqlite) throws -> [String] {
        try Migrator.plan(files: files, in: Self.directory, for: dialect).map(\.name)
    }

    static func refusal(_ files: [String], _ dialect: SQLDialect = .sqlite) -> String {
        do {
            let planned = try Migrator.plan(files: files, in: Self.directory, for: dialect)
            return "accepted: \(planned.map(\.name))"
        } catch {
            return "\(error)"
        }
    }

    @Test func filesApplyInTheOrderOfTheirNumberNotOfTheirName() throws {
        // Directory order is arbitrary; 10 comes after 9 although "10" < "9" as text.
        let files = ["10_tags.sql", "002_posts.sql", "9_likes.sql", "001_users.sql"]
        #expect(try Self.names(files) == ["001_users", "002_posts", "9_likes", "10_tags"])
        let planned = try Migrator.plan(files: files, in: Self.directory, for: .sqlite)
        #expect(planned.map(\.number) == [1, 2, 9, 10])
        #expect(planned[0].url.path == "/app/migrations/001_users.sql")
    }

    @Test func otherFilesAreIgnored() throws {
        let files = ["README.md", "001_users.sql~", "001_users.sql.orig", ".DS_Store", "notes.txt", "001_users.sql"]
        #expect(try Self.names(files) == ["001_users"])
        #expect(try Self.names([]) == [])
    }

    @Test func aDatabasesOwnFileCountsOnlyThereUnderTheCommonName() throws {
        let files = ["001_users.postgres.sql", "001_users.sqlite.sql", "002_posts.sql", "003_search.postgres.sql"]
        #expect(try Self.names(files, .postgres) == ["001_users", "002_posts", "003_search"])
        #expect(try Self.names(files, .sqlite) == ["001_users", "002_posts"])
        let postgres = try Migrator.plan(files: files, in: Self.directory, for: .postgres)
        #expect(postgres[0].url.lastPathComponent == "001_users.postgres.sql")
    }

    @Test(arguments: [
        "users.sql", "_users.sql", "001users.sql", "001_.sql", "001.sql", "-1_users.sql", "+1_users.sql", " 1_users.sql",
        "١_users.sql", "99999999999999999999999_users.sql", ".sql", "x_001_users.sql",
    ])
    func aBadlyNamedFileIsRefusedByName(file: String) {
        let message = Self.refusal(["001_users.sql", file])
        #expect(message.hasPrefix("\(file): migration files are named NNN_description.sql"), "\(message)")
        #expect(message.contains("e.g. 001_create_users.sql"), "\(message)")
    }

    @Test func anotherDatabasesSuffixIsRefusedNotAppliedEverywhere() {
        // `.pg.sql` is not `.postgres.sql`: applied on both databases it would break SQLite.
        let message = Self.refusal(["001_users.pg.sql"], .sqlite)
        #expect(message.hasPrefix("001_users.pg.sql: unknown database suffix .pg.sql"), "\(message)")
        #expect(message.contains(".postgres.sql, .sqlite.sql"), "\(message)")
        #expect(Self.refusal(["001_users.mysql.sql"], .postgres).contains("unknown database suffix .mysql.sql"))
    }

    @Test func twoFilesWithOneNumberAreRefusedNamingBoth() {
        let message = Self.refusal(["001_users.sql", "1_accounts.sql", "002_posts.sql"])
        #expect(message == "001_users.sql and 1_accounts.sql have the same number (1): give each migration a number of its own")
        // A common file beside a database's own one with the same number: only where both count.
        #expect(Self.refusal(["001_users.sql", "001_users.postgres.sql"], .postgres).contains("have the same number"))
        #expect(Self.refusal(["001_users.sql", "001_users.postgres.sql"], .sqlite) == "accepted: [\"001_users\"]")
    }

    @Test func theMigratorReadsTheDirectoryWithTheseRules() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for file in ["2_b.sql", "1_a.sqlite.sql", "1_a.postgres.sql", "notes.md"] {
            try "SELECT 1;".write(to: directory.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
        #expect(try Self.names(try FileManager.default.contentsOfDirectory(atPath: directory.path)) == ["1_a", "2_b"])
    }
}
