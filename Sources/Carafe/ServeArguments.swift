import ArgumentParser
import Foundation

/// `serve`'s command line completed from the other sources: every flag of `serve` that the
/// command line does not give is read, highest first, from
///
/// 1. `CARAFE_<FLAG>` in the environment (or the `.env` file): `--max-requests` is
///    `CARAFE_MAX_REQUESTS`, `--bind` is `CARAFE_BIND` (several addresses separated by spaces
///    or commas), a switch such as `--debug` is `CARAFE_DEBUG=1`;
/// 2. what platforms set: `PORT` (Heroku, Cloud Run, Render…) binds `0.0.0.0:$PORT`, and
///    `WEB_CONCURRENCY` is `--workers`;
/// 3. the `serve` object of the configuration file (`--config FILE`): `{"serve": {"workers": 4,
///    "bind": ["0.0.0.0:8000"], "access-logfile": "-"}}`.
///
/// The flags are those ArgumentParser knows of `serve` (from its own description of the
/// command), so a flag added to `ServeOptions` is covered without a line here. The values
/// found are passed to ArgumentParser as `--flag=value`, so they are checked exactly as typed
/// ones; one that does not parse is a `ConfigError` naming its source and value.
struct ServeArguments {
    /// What ArgumentParser parses.
    let arguments: [String]
    /// Every flag of `serve`, with its value and source, for `--print-config`.
    let entries: [ConfigEntry]

    /// A flag of `serve`, as ArgumentParser describes it.
    struct Flag {
        let long: String
        let shorts: [String]
        let takesValue: Bool
        let isRepeating: Bool
        let defaultValue: String?
    }

    /// Flags that only the command line gives.
    static let commandLineOnly: Set<String> = ["help", "config", "print-config", "version"]

    /// `serve`'s flags, from ArgumentParser's description of the command.
    static let flags: [Flag] = {
        struct Dump: Decodable {
            struct Command: Decodable { let arguments: [Argument]? }
            struct Argument: Decodable {
                struct Name: Decodable {
                    let kind: String
                    let name: String
                }
                let kind: String
                let names: [Name]?
                let isRepeating: Bool
                let defaultValue: String?
            }
            let command: Command
        }
        guard let dump = try? JSONDecoder().decode(Dump.self, from: Data(ServeCommand._dumpHelp().utf8)) else { return [] }
        return (dump.command.arguments ?? []).compactMap { argument in
            guard argument.kind != "positional", let long = argument.names?.first(where: { $0.kind == "long" })?.name else { return nil }
            return Flag(
                long: long,
                shorts: argument.names?.filter { $0.kind == "short" }.map(\.name) ?? [],
                takesValue: argument.kind == "option",
                isRepeating: argument.isRepeating,
                defaultValue: argument.defaultValue
            )
        }
    }()

    /// The environment variable for a flag: `max-requests` → `CARAFE_MAX_REQUESTS`.
    static func variable(for flag: String) -> String {
        "CARAFE_" + flag.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// Completes `arguments` (the process's, without the executable) when they run `serve`;
    /// other commands' are returned as they are.
    static func resolve(_ arguments: [String], sources: ConfigSources) throws -> ServeArguments {
        let head: [String]
        var rest: [String]
        if let first = arguments.first, first == "serve" {
            (head, rest) = (["serve"], Array(arguments.dropFirst()))
        } else if arguments.first.map({ $0.hasPrefix("-") }) ?? true {
            (head, rest) = ([], arguments)
        } else {
            return ServeArguments(arguments: arguments, entries: [])
        }
        var trailing: [String] = []
        if let terminator = rest.firstIndex(of: "--") {
            trailing = Array(rest[terminator...])
            rest = Array(rest[..<terminator])
        }
        let typed = Self.typedValues(rest)
        var injected: [(arguments: [String], entry: ConfigEntry)] = []
        var entries: [ConfigEntry] = []
        for flag in Self.flags where !Self.commandLineOnly.contains(flag.long) {
            if let values = typed[flag.long] {
                entries.append(ConfigEntry(name: "--" + flag.long, value: values.joined(separator: " "), source: .commandLine))
                continue
            }
            guard let (raw, source) = Self.lookup(flag, sources) else {
                entries.append(ConfigEntry(name: "--" + flag.long, value: flag.defaultValue, source: .defaults))
                continue
            }
            let entry = ConfigEntry(name: "--" + flag.long, value: raw.text, source: source)
            injected.append((try Self.arguments(for: flag, raw, entry), entry))
            entries.append(entry)
        }
        let all = head + rest + injected.flatMap(\.arguments) + trailing
        do {
            _ = try CarafeCommand.parseAsRoot(all)
        } catch {
            // Which value is it? The command line alone is ArgumentParser's to explain.
            for (arguments, entry) in injected {
                do {
                    _ = try CarafeCommand.parseAsRoot(head + rest + arguments + trailing)
                } catch let single {
                    if (try? CarafeCommand.parseAsRoot(head + rest + trailing)) != nil {
                        throw ConfigError(entry: entry, problem: CarafeCommand.message(for: single))
                    }
                }
            }
        }
        return ServeArguments(arguments: all, entries: entries)
    }

    /// The value of `flag` from the highest source that has one.
    private static func lookup(_ flag: Flag, _ sources: ConfigSources) -> (ConfigRawValue, ConfigSource)? {
        if let found = sources.variable(Self.variable(for: flag.long)) { return (.text(found.value), found.source) }
        if flag.long == "bind", let found = sources.variable("PORT") { return (.text("0.0.0.0:\(found.value)"), found.source) }
        if flag.long == "workers", let found = sources.variable("WEB_CONCURRENCY") { return (.text(found.value), found.source) }
        if let value = sources.serveSection[ConfigKey.normalized(flag.long)], let path = sources.filePath {
            return (.json(value), .file(path: path))
        }
        return nil
    }

    /// `--flag=value` arguments for a value: one per item for a repeatable flag, the bare
    /// `--flag` or nothing for a switch.
    private static func arguments(for flag: Flag, _ raw: ConfigRawValue, _ entry: ConfigEntry) throws -> [String] {
        guard flag.takesValue else {
            let on: Bool
            switch raw {
            case .json(let value as Bool): on = value
            default:
                switch raw.text.lowercased() {
                case "1", "true", "yes", "on": on = true
                case "0", "false", "no", "off", "": on = false
                default: throw ConfigError(entry: entry, problem: "expected true or false (also 1/0, yes/no, on/off)")
                }
            }
            return on ? ["--" + flag.long] : []
        }
        var values: [String]
        switch raw {
        case .json(let array as [Any]): values = array.map { ConfigRawValue.json($0).text }
        case .json: values = [raw.text]
        case .text(let text) where flag.isRepeating:
            values = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" }).map(String.init)
        case .text(let text): values = [text]
        }
        if !flag.isRepeating, values.count > 1 { throw ConfigError(entry: entry, problem: "expected one value, not a list") }
        return values.map { "--\(flag.long)=\($0)" }
    }

    /// The flags the command line gives, by long name, with their values.
    private static func typedValues(_ arguments: [String]) -> [String: [String]] {
        let byShort = Dictionary(Self.flags.flatMap { flag in flag.shorts.map { ($0, flag) } }, uniquingKeysWith: { first, _ in first })
        let byLong = Dictionary(Self.flags.map { ($0.long, $0) }, uniquingKeysWith: { first, _ in first })
        var typed: [String: [String]] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            let flag: Flag?
            var inline: String?
            if argument.hasPrefix("--") {
                let body = argument.dropFirst(2)
                let name = body.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                if let equals = body.firstIndex(of: "=") { inline = String(body[body.index(after: equals)...]) }
                flag = byLong[name]
            } else if argument.hasPrefix("-"), argument.count >= 2 {
                let name = String(argument.dropFirst().prefix(1))
                if argument.count > 2 { inline = String(argument.dropFirst(2)) }
                flag = byShort[name]
            } else {
                continue
            }
            guard let flag else { continue }
            var value = "(on)"
            if flag.takesValue {
                if let inline {
                    value = inline
                } else if index < arguments.count {
                    value = arguments[index]
                    index += 1
                }
            }
            typed[flag.long, default: []].append(value)
        }
        return typed
    }

    /// `--print-config`: `serve`'s flags, then the app's settings, each with its value and
    /// source, secrets masked.
    func report(settings: [ConfigEntry]) -> String {
        func table(_ entries: [ConfigEntry]) -> String {
            let width = entries.map(\.name.count).max() ?? 0
            return entries.map { entry in
                let value = entry.displayValue
                return entry.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value
                    + String(repeating: " ", count: max(1, 24 - value.count)) + "(" + entry.source.description + ")\n"
            }.joined()
        }
        var text = "# serve\n" + table(self.entries)
        if !settings.isEmpty { text += "\n# app.config\n" + table(settings) }
        return text
    }

    /// `error`'s message, with the source of each flag it names that did not come from the
    /// command line: "--umask must be octal (--umask = '8' from environment variable CARAFE_UMASK)".
    func explain(_ error: any Error) -> String {
        let message = "\(error)"
        let sources = self.entries.filter { entry in
            entry.source != .commandLine && entry.source != .defaults && message.contains(entry.name)
        }
        guard !sources.isEmpty else { return message }
        return message + " (" + sources.map { "\($0.name) = '\($0.displayValue)' from \($0.source)" }.joined(separator: "; ") + ")"
    }
}
