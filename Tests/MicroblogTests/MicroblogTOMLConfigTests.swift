import Foundation
import ProcessTestSupport
import Testing

/// `--config microblog.toml` (CarafeTOML): each level of the precedence, defaults < file <
/// .env < environment < flags, seen in `serve --print-config`; and each bad value's message.
@Suite struct MicroblogTOMLConfigTests {
    static let executable = builtExecutable("microblog").path
    static let base = ["PATH": "/usr/bin:/bin", "SECRET_KEY": "s3cret-s3cret-s3cret-s3cret-s3cret!"]

    /// `microblog ARGUMENTS` run in `directory` (where its `.env` is read).
    static func run(in directory: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String)
    {
        let quoted = ([Self.executable] + arguments).map { "'\($0)'" }.joined(separator: " ")
        return try runProcess(
            "/bin/sh",
            ["-c", "cd '\(directory.path)' && exec \(quoted)"],
            environment: Self.base.merging(environment) { _, new in new }
        )
    }

    static func directory(toml: String, dotEnv: String = "") throws -> URL {
        let directory = try makeTemporaryDirectory("microblog-toml")
        try toml.write(to: directory.appendingPathComponent("microblog.toml"), atomically: true, encoding: .utf8)
        if !dotEnv.isEmpty { try dotEnv.write(to: directory.appendingPathComponent(".env"), atomically: true, encoding: .utf8) }
        return directory
    }

    @Test func eachLevelOfThePrecedence() throws {
        let directory = try Self.directory(
            toml: """
                # The microblog's settings, then serve's flags.
                page_size = 3
                database_url = "sqlite::memory:"
                avatar_directory = "/srv/avatars"

                [serve]
                keep_alive = 7
                graceful_timeout = 11
                timeout = 45
                workers = 2
                """,
            dotEnv: "PAGE_SIZE=4\nCARAFE_GRACEFUL_TIMEOUT=12\nCARAFE_TIMEOUT=50\nCARAFE_WORKERS=3\n"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let printed = try Self.run(
            in: directory,
            ["serve", "--print-config", "--config", "microblog.toml", "--workers", "5"],
            environment: ["PAGE_SIZE": "5", "CARAFE_TIMEOUT": "55", "CARAFE_WORKERS": "4"]
        )
        #expect(printed.status == 0, "\(printed.output)")
        let lines = printed.output.split(separator: "\n").map(String.init)
        func line(_ name: String) -> String { lines.first { $0.hasPrefix(name + " ") } ?? "(none for \(name))" }
        // defaults
        #expect(line("--max-requests").contains(" 0") && line("--max-requests").contains("(default)"), "\(printed.output)")
        // < file
        #expect(
            line("database_url").contains("sqlite::memory:") && line("database_url").contains("(config file microblog.toml)"),
            "\(printed.output)"
        )
        #expect(line("avatar_directory").contains("/srv/avatars") && line("avatar_directory").contains("(config file microblog.toml)"))
        #expect(
            line("--keep-alive").contains("7") && line("--keep-alive").contains("(config file microblog.toml)"),
            "\(line("--keep-alive"))"
        )
        // < .env
        #expect(
            line("--graceful-timeout").contains("12") && line("--graceful-timeout").contains("CARAFE_GRACEFUL_TIMEOUT in .env"),
            "\(line("--graceful-timeout"))"
        )
        // < environment
        #expect(line("page_size").contains("5") && line("page_size").contains("(environment variable PAGE_SIZE)"), "\(line("page_size"))")
        #expect(
            line("--timeout").contains("55") && line("--timeout").contains("(environment variable CARAFE_TIMEOUT)"),
            "\(line("--timeout"))"
        )
        // < flags
        #expect(line("--workers").contains("5") && line("--workers").contains("(command line)"), "\(line("--workers"))")
    }

    @Test func badValuesStopTheStartNamingTheFileTheKeyAndTheValue() throws {
        func start(_ toml: String) throws -> (status: Int32, output: String) {
            let directory = try Self.directory(toml: toml)
            defer { try? FileManager.default.removeItem(at: directory) }
            return try Self.run(in: directory, ["serve", "--bind", "127.0.0.1:0", "--config", "microblog.toml"])
        }
        let text = try start("page_size = \"ten\"\ndatabase_url = \"sqlite::memory:\"\n")
        #expect(text.status == 78)
        #expect(text.output.contains("page_size = 'ten' (from config file microblog.toml): expected a whole number"), "\(text.output)")
        let range = try start("page_size = 0\ndatabase_url = \"sqlite::memory:\"\n")
        #expect(range.status == 78)
        #expect(
            range.output.contains("page_size = '0' (from config file microblog.toml): expected 1 to 100 posts per page"),
            "\(range.output)"
        )
        let kind = try start("database_url = 5\n")
        #expect(kind.status == 78)
        #expect(kind.output.contains("database_url = '5' (from config file microblog.toml)"), "\(kind.output)")
        let flag = try start("database_url = \"sqlite::memory:\"\n[serve]\nkeep_alive = \"soon\"\n")
        #expect(flag.status == 2)
        #expect(flag.output.contains("--keep-alive = 'soon' (from config file microblog.toml)"), "\(flag.output)")
        let syntax = try start("page_size = 3\ndatabase_url = sqlite\n")
        #expect(syntax.status == 78)
        #expect(syntax.output.contains("the config file microblog.toml is not valid TOML: line 2, column"), "\(syntax.output)")
        for failed in [text, range, kind, flag, syntax] {
            #expect(!failed.output.contains("serving on"), "nothing started")
        }
    }
}
