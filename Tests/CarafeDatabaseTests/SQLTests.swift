import CarafeDatabase
import Testing

@Suite struct SQLTests {
    @Test func interpolatedValuesBecomeParametersInEachDialect() {
        let name = "Robert'); DROP TABLE users;--"
        let sql: SQL = "SELECT * FROM users WHERE name = \(name) AND age > \(30) AND nick = \(nil as String?)"
        #expect(sql.text(for: .postgres) == "SELECT * FROM users WHERE name = $1 AND age > $2 AND nick = $3")
        #expect(sql.text(for: .sqlite) == "SELECT * FROM users WHERE name = ? AND age > ? AND nick = ?")
        #expect(sql.values == [.text(name), .int(30), .null])
    }

    @Test func fragmentsSpliceTheirTextAndParametersInOrder() {
        let tag = "swift"
        let filter: SQL = "tag = \(tag) AND score > \(1.5)"
        let sql: SQL = "SELECT * FROM posts WHERE author = \(7) AND \(filter) LIMIT \(10)"
        #expect(sql.text(for: .postgres) == "SELECT * FROM posts WHERE author = $1 AND tag = $2 AND score > $3 LIMIT $4")
        #expect(sql.values == [.int(7), .text("swift"), .double(1.5), .int(10)])
    }

    @Test func identifiersAreQuotedWithInnerQuotesDoubled() {
        let sql: SQL = "SELECT * FROM \(identifier: "we\"ird")"
        #expect(sql.text(for: .sqlite) == #"SELECT * FROM "we""ird""#)
        #expect(sql.values.isEmpty)
    }

    @Test func databaseURLsPickTheDriver() throws {
        #expect(try Database.open(url: "sqlite::memory:").dialect == .sqlite)
        #expect(try Database.open(url: "sqlite:/tmp/x.sqlite").dialect == .sqlite)
        #expect(try Database.open(url: "postgres://u:p@127.0.0.1:1/db").dialect == .postgres)
        #expect(try Database.open(url: "postgresql://u@localhost/db").dialect == .postgres)
        #expect(throws: DatabaseURLError.self) { try Database.open(url: "mysql://u@h/db") }
        #expect(throws: DatabaseURLError.self) { try Database.open(url: "sqlite:") }
        let error = #expect(throws: DatabaseURLError.self) { try Database.open(url: "postgres://u:hunter2@h/db?sslmode=sometimes") }
        #expect(error?.description.contains("sslmode=sometimes") == true)
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test func theURLsQuerySetsThePoolsLimits() throws {
        let db = try Database.open(
            url: "postgres://u@127.0.0.1/db?max_connections=7&connect_timeout=1.5&idle_timeout=300&wait_timeout=0.25"
        )
        let pool = try #require(db.driver as? PostgresDriver).pool.configuration
        #expect(pool.maxConnections == 7)
        #expect(pool.connectTimeout == .milliseconds(1500))
        #expect(pool.idleTimeout == .seconds(300))
        #expect(pool.waitTimeout == .milliseconds(250))
        let sqlite = try Database.open(url: "sqlite:/tmp/carafe-url-test.sqlite?max_connections=3")
        #expect(try #require(sqlite.driver as? SQLiteDriver).pool.configuration.maxConnections == 3)
        #expect(try #require(sqlite.driver as? SQLiteDriver).storage == .file("/tmp/carafe-url-test.sqlite"))
        let bad = #expect(throws: DatabaseURLError.self) { try Database.open(url: "sqlite:x.sqlite?wait_timeout=soon") }
        #expect(bad?.description == "wait_timeout must be a positive number of seconds, got 'soon'")
        #expect(throws: DatabaseURLError.self) { try Database.open(url: "postgres://u@h/db?max_connections=0") }
    }

    @Test func postgresURLComponentsAreDecoded() throws {
        let configuration = try PostgresDriver.configuration(url: "postgres://app%40x:p%2Fw@db.example:6543/main")
        #expect(configuration.username == "app@x")
        #expect(configuration.password == "p/w")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.database == "main")
        let socket = try PostgresDriver.configuration(url: "postgres://app@/main?host=/run/postgresql")
        #expect(socket.unixSocketPath == "/run/postgresql/.s.PGSQL.5432")
    }
}
