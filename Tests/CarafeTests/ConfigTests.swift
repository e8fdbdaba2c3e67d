import Foundation
import Testing

@testable import Carafe
@testable import CarafeCore

/// `app.config` and `serve`'s flags from the environment, `.env` and a config file: which
/// source wins, and what a bad value says.
@Suite struct ConfigTests {
    struct Settings: Codable, Equatable {
        var databaseURL = "sqlite:app.sqlite"
        var secretKey = ""
        var pageSize = 20
        var debug = false
        var ratio = 0.5
        var tags: [String] = []
    }

    /// A temporary directory with a config file and a `.env`, removed at the end.
    final class Files {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("carafe-config-\(UUID().uuidString)").path
        init() { try! FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: self.directory) }
        func write(_ name: String, _ text: String) -> String {
            let path = self.directory + "/" + name
            FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            return path
        }
    }

    func config(arguments: [String] = [], environment: [String: String] = [:], dotEnv: String? = nil, files: Files) -> AppConfig {
        let config = AppConfig()
        config.arguments = arguments
        config.environment = environment
        config.dotEnvPath = dotEnv.map { files.write(".env", $0) } ?? files.directory + "/.env"
        return config
    }

    @Test func defaultsWhenNothingSetsAValue() throws {
        let files = Files()
        let config = self.config(files: files)
        #expect(try config.load(Settings()) == Settings())
        #expect(config.entries.allSatisfy { $0.source == .defaults })
        #expect(config.entries.map(\.name).sorted() == ["databaseURL", "debug", "pageSize", "ratio", "secretKey", "tags"])
    }

    @Test func environmentOverDotEnvOverFileOverDefaults() throws {
        let files = Files()
        let file = files.write("app.json", #"{"page_size": 5, "database_url": "sqlite:file.sqlite", "debug": true, "tags": ["a", "b"]}"#)
        let config = self.config(
            arguments: ["app", "serve", "--config", file],
            environment: ["PAGE_SIZE": "7"],
            dotEnv: "# comment\nPAGE_SIZE=6\nexport DATABASE_URL=\"sqlite:dotenv.sqlite\"\nRATIO=0.25 # a comment\n",
            files: files
        )
        let settings = try config.load(Settings())
        #expect(settings.pageSize == 7)
        #expect(settings.databaseURL == "sqlite:dotenv.sqlite")
        #expect(settings.debug == true)
        #expect(settings.ratio == 0.25)
        #expect(settings.tags == ["a", "b"])
        #expect(settings.secretKey == "")
        let sources = Dictionary(uniqueKeysWithValues: config.entries.map { ($0.name, $0.source) })
        #expect(sources["pageSize"] == .environment(variable: "PAGE_SIZE"))
        #expect(sources["databaseURL"] == .dotEnv(path: config.dotEnvPath, variable: "DATABASE_URL"))
        #expect(sources["debug"] == .file(path: file))
        #expect(sources["secretKey"] == .defaults)
    }

    @Test func aPrefixNamesTheVariables() throws {
        let files = Files()
        let config = self.config(environment: ["PAGE_SIZE": "1", "BLOG_PAGE_SIZE": "3", "BLOG_TAGS": #"["x"]"#], files: files)
        let settings = try config.load(Settings(), prefix: "BLOG_")
        #expect(settings.pageSize == 3)
        #expect(settings.tags == ["x"])
    }

    @Test func aBadValueNamesTheSettingTheValueAndTheSource() throws {
        let files = Files()
        let error = #expect(throws: ConfigError.self) {
            try self.config(environment: ["PAGE_SIZE": "ten"], files: files).load(Settings())
        }
        #expect(
            error?.description
                == "Invalid configuration: pageSize = 'ten' (from environment variable PAGE_SIZE): expected a whole number from \(Int.min) to \(Int.max)"
        )
        let boolean = #expect(throws: ConfigError.self) {
            try self.config(dotEnv: "DEBUG=maybe\n", files: files).load(Settings())
        }
        #expect(boolean?.description.contains("debug = 'maybe' (from DEBUG in \(files.directory)/.env): expected true or false") == true)
        let file = files.write("bad.json", #"{"page_size": "many"}"#)
        let fromFile = #expect(throws: ConfigError.self) {
            try self.config(environment: ["CARAFE_CONFIG": file], files: files).load(Settings())
        }
        #expect(fromFile?.description.contains("pageSize = 'many' (from config file \(file))") == true)
    }

    @Test func aSecretIsMaskedInMessagesAndEntries() throws {
        let files = Files()
        let config = self.config(environment: ["SECRET_KEY": "hunter2hunter2", "DATABASE_URL": "postgres://app:pw@db/app"], files: files)
        _ = try config.load(Settings())
        let entries = Dictionary(uniqueKeysWithValues: config.entries.map { ($0.name, $0) })
        #expect(entries["secretKey"]?.displayValue == "********")
        #expect(entries["databaseURL"]?.displayValue == "postgres://app:********@db/app")
        #expect(!ConfigEntry.isSecret("keep-alive"))
        #expect(ConfigEntry.isSecret("apiToken"))
    }

    @Test func brokenFilesAreNamed() throws {
        let files = Files()
        let bad = files.write("broken.json", "{ nope")
        let error = #expect(throws: ConfigError.self) { try self.config(arguments: ["--config=\(bad)"], files: files).load(Settings()) }
        #expect(error?.description.contains("the config file \(bad) is not valid JSON") == true)
        let missing = #expect(throws: ConfigError.self) {
            try self.config(arguments: ["--config", "/nonexistent.json"], files: files).load(Settings())
        }
        #expect(missing?.description == "cannot read the config file /nonexistent.json: no such file")
        let dotEnv = #expect(throws: ConfigError.self) { try self.config(dotEnv: "OK=1\nnot a line\n", files: files).load(Settings()) }
        #expect(dotEnv?.description == "\(files.directory)/.env:2: expected NAME=value, got 'not a line'")
    }

    @Test func settingNamesMatchAcrossConventions() {
        #expect(ConfigKey.environmentName("databaseURL", prefix: "") == "DATABASE_URL")
        #expect(ConfigKey.environmentName("page_size", prefix: "APP_") == "APP_PAGE_SIZE")
        #expect(ConfigKey.normalized("max-requests") == ConfigKey.normalized("maxRequests"))
        #expect(DotEnvTests.parse("A='x # y'\nB=\"l1\\nl2\"") == ["A": "x # y", "B": "l1\nl2"])
    }

    // MARK: serve's flags

    func resolve(_ arguments: [String], environment: [String: String] = [:], file: String? = nil) throws -> ServeArguments {
        let sources = try ConfigSources(
            arguments: arguments,
            environment: environment.merging(file.map { ["CARAFE_CONFIG": $0] } ?? [:]) { a, _ in a },
            dotEnvPath: "/nonexistent/.env"
        )
        return try ServeArguments.resolve(arguments, sources: sources)
    }

    func options(_ resolved: ServeArguments) throws -> ServeOptions {
        let command = try CarafeCommand.parseAsRoot(resolved.arguments)
        return try #require(command as? ServeCommand).options
    }

    @Test func everyFlagOfServeIsKnown() {
        let names = Set(ServeArguments.flags.map(\.long))
        // A sample, including flags with custom names; the list comes from ArgumentParser.
        for flag in ["bind", "workers", "max-requests", "pid", "forwarded-allow-ips", "debug", "reload", "log-level", "keep-alive"] {
            #expect(names.contains(flag), "\(flag)")
        }
        #expect(ServeArguments.variable(for: "max-requests") == "CARAFE_MAX_REQUESTS")
    }

    @Test func flagsComeFromTheEnvironmentUnlessTyped() throws {
        let resolved = try self.resolve(
            ["serve", "--timeout", "9"],
            environment: [
                "CARAFE_WORKERS": "3", "CARAFE_TIMEOUT": "99", "CARAFE_BIND": "127.0.0.1:9001, unix:/tmp/x.sock", "CARAFE_DEBUG": "yes",
                "CARAFE_LOG_LEVEL": "info",
            ]
        )
        let options = try self.options(resolved)
        #expect(options.workers == 3)
        #expect(options.timeout == 9)
        #expect(options.bind == ["127.0.0.1:9001", "unix:/tmp/x.sock"])
        #expect(options.debug == true)
        #expect(options.logLevel == .info)
        let sources = Dictionary(uniqueKeysWithValues: resolved.entries.map { ($0.name, $0.source) })
        #expect(sources["--timeout"] == .commandLine)
        #expect(sources["--workers"] == .environment(variable: "CARAFE_WORKERS"))
        #expect(sources["--max-requests"] == .defaults)
    }

    @Test func platformVariablesAndTheFile() throws {
        let files = Files()
        let file = files.write(
            "serve.json",
            #"{"serve": {"workers": 2, "max_requests": 100, "bind": ["127.0.0.1:1", "127.0.0.1:2"], "reload": false, "debug": true}}"#
        )
        var options = try self.options(self.resolve([], environment: ["PORT": "5000", "WEB_CONCURRENCY": "4"], file: file))
        #expect(options.bind == ["0.0.0.0:5000"])
        #expect(options.workers == 4)
        #expect(options.maxRequests == 100)
        #expect(options.debug == true)
        options = try self.options(self.resolve([], file: file))
        #expect(options.bind == ["127.0.0.1:1", "127.0.0.1:2"])
        #expect(options.workers == 2)
        // CARAFE_BIND wins over PORT; the command line over both.
        options = try self.options(self.resolve([], environment: ["PORT": "5000", "CARAFE_BIND": "127.0.0.1:7"]))
        #expect(options.bind == ["127.0.0.1:7"])
        options = try self.options(self.resolve(["-b", "127.0.0.1:8", "-w", "2"], environment: ["PORT": "5000", "WEB_CONCURRENCY": "9"]))
        #expect(options.bind == ["127.0.0.1:8"])
        #expect(options.workers == 2)
    }

    @Test func aBadFlagValueNamesItsSource() throws {
        let error = #expect(throws: ConfigError.self) { try self.resolve(["serve"], environment: ["CARAFE_WORKERS": "many"]) }
        #expect(
            error?.description.hasPrefix("Invalid configuration: --workers = 'many' (from environment variable CARAFE_WORKERS): ") == true
        )
        #expect(error?.description.contains("many") == true)
        let port = #expect(throws: ConfigError.self) { try self.resolve([], environment: ["WEB_CONCURRENCY": "-"]) }
        #expect(port?.description.contains("(from environment variable WEB_CONCURRENCY)") == true)
        let flag = #expect(throws: ConfigError.self) { try self.resolve([], environment: ["CARAFE_RELOAD": "sometimes"]) }
        #expect(
            flag?.description
                == "Invalid configuration: --reload = 'sometimes' (from environment variable CARAFE_RELOAD): expected true or false (also 1/0, yes/no, on/off)"
        )
        // A value that parses but fails a later check gets its source added to the message.
        let resolved = try self.resolve([], environment: ["CARAFE_UMASK": "9"])
        #expect(
            resolved.explain(ConfigError("--umask must be octal, e.g. 007"))
                == "--umask must be octal, e.g. 007 (--umask = '9' from environment variable CARAFE_UMASK)"
        )
    }

    @Test func otherCommandsAreLeftAlone() throws {
        #expect(try self.resolve(["routes"], environment: ["CARAFE_WORKERS": "x"]).arguments == ["routes"])
    }

    @Test func thePrintedConfigurationMasksSecrets() throws {
        let resolved = try self.resolve(["--workers", "2"], environment: ["CARAFE_FORWARDED_ALLOW_IPS": "10.0.0.1"])
        let report = resolved.report(settings: [ConfigEntry(name: "secretKey", value: "abc", source: .environment(variable: "SECRET_KEY"))])
        #expect(report.contains("--workers"))
        #expect(report.contains("(command line)"))
        #expect(report.contains("10.0.0.1"))
        #expect(report.contains("(environment variable CARAFE_FORWARDED_ALLOW_IPS)"))
        #expect(report.contains("********"))
        #expect(!report.contains("abc"))
    }
}

enum DotEnvTests {
    static func parse(_ text: String) -> [String: String] {
        Dictionary((try? DotEnv.parse(text, path: ".env"))?.map { ($0.name, $0.value) } ?? [], uniquingKeysWith: { _, b in b })
    }
}
