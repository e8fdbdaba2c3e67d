import CarafeDatabase
import Foundation
import PostgresTestSupport
import ProcessTestSupport

/// A database of TFB's two tables on the test PostgreSQL, and the built `techempower` serving it.
final class TechEmpowerServer: @unchecked Sendable {
    let database: Database
    let process: ServerProcess
    var port: Int { self.process.port }

    /// TFB's 12 fortunes, as its PostgreSQL set-up loads them.
    static let fortunes: [(Int, String)] = [
        (1, "fortune: No such file or directory"),
        (2, "A computer scientist is someone who fixes things that aren't broken."),
        (3, "After enough decimal places, nobody gives a damn."),
        (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
        (5, "A computer program does what you tell it to do, not what you want it to do."),
        (6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"),
        (7, "Any program that runs right is obsolete."),
        (8, "A list is only as strong as its weakest link. — Donald Knuth"),
        (9, "Feature: A bug with seniority."),
        (10, "Computers make very fast, very accurate mistakes."),
        (11, "<script>alert(\"This should not be displayed in a browser alert box.\");</script>"),
        (12, "フレームワークのベンチマーク"),
    ]

    init(pool: Int = 4) async throws {
        let server = try PostgresServer.shared
        let name = "tfb_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try Database.open(url: server.url)
        try await admin.execute("CREATE DATABASE \(identifier: name)")
        await admin.shutdown()
        self.database = try Database.open(url: server.url(database: name))
        try await self.database.execute("CREATE TABLE world (id integer PRIMARY KEY, randomnumber integer NOT NULL DEFAULT 0)")
        try await self.database.execute(
            "INSERT INTO world (id, randomnumber) SELECT g, 1 + floor(random() * 10000)::integer FROM generate_series(1, 10000) AS g"
        )
        try await self.database.execute("CREATE TABLE fortune (id integer PRIMARY KEY, message text NOT NULL)")
        for (id, message) in Self.fortunes {
            try await self.database.execute("INSERT INTO fortune (id, message) VALUES (\(id), \(message))")
        }
        self.process = try ServerProcess(
            builtExecutable("techempower"),
            ["serve", "--bind", "127.0.0.1:0"],
            environment: [
                "PATH": "/usr/bin:/bin", "PGHOST": "127.0.0.1", "PGPORT": String(server.port), "PGUSER": server.user,
                "PGPASSWORD": server.password, "PGDATABASE": name, "PG_POOL": String(pool),
            ]
        )
    }

    /// The `world` table: randomnumber by id.
    func worlds() async throws -> [Int: Int] {
        var table: [Int: Int] = [:]
        for row in try await self.database.rows("SELECT id, randomnumber FROM world") {
            table[try row.decode("id")] = try row.decode("randomnumber")
        }
        return table
    }

    struct Answer {
        let status: Int
        let headers: [String: String]
        let body: Data
        var text: String { String(decoding: self.body, as: UTF8.self) }

        func json() throws -> Any { try JSONSerialization.jsonObject(with: self.body, options: [.fragmentsAllowed]) }
    }

    /// GET `path` with curl, its headers by lower-cased name.
    func get(_ path: String) throws -> Answer {
        let headerFile = NSTemporaryDirectory() + "tfb-headers-\(UUID().uuidString)"
        let bodyFile = NSTemporaryDirectory() + "tfb-body-\(UUID().uuidString)"
        defer {
            unlink(headerFile)
            unlink(bodyFile)
        }
        _ = try curl(["-D", headerFile, "-o", bodyFile, "http://127.0.0.1:\(self.port)\(path)"])
        let head = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        let lines = head.components(separatedBy: "\r\n")
        let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Answer(status: status, headers: headers, body: (try? Data(contentsOf: URL(fileURLWithPath: bodyFile))) ?? Data())
    }
}
