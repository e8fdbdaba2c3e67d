import Foundation

/// A configuration value as a source holds it: text (the environment, `.env`) or a JSON value
/// (the configuration file, the defaults).
package enum ConfigRawValue {
    case text(String)
    case json(Any)

    /// The value as `--print-config` shows it.
    package var text: String {
        switch self {
        case .text(let text): return text
        case .json(let value as String): return value
        case .json(let value):
            let data = try? JSONSerialization.data(
                withJSONObject: value,
                options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]
            )
            return data.map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
        }
    }
}

/// The places configuration is read from, each read once, highest first:
///
/// 1. the environment: `PREFIX` + the setting's name in upper snake case (`DATABASE_URL`);
/// 2. the `.env` file in the current directory (its variables, named the same way);
/// 3. the configuration file, `--config FILE` on the command line or `$CARAFE_CONFIG`: a JSON
///    object (or a file of a registered `ConfigFileFormat`, such as TOML) whose keys are the
///    settings' names (`page_size` or `pageSize`), and whose `serve` object holds `serve`'s flags;
/// 4. the defaults.
package struct ConfigSources {
    let environment: [String: String]
    let dotEnvPath: String
    let dotEnv: [String: String]
    package let filePath: String?
    /// The configuration file's top-level object, its keys normalized (see `ConfigKey`).
    let file: [String: Any]

    package init(arguments: [String], environment: [String: String], dotEnvPath: String = ".env", formats: [ConfigFileFormat] = []) throws {
        self.environment = environment
        self.dotEnvPath = dotEnvPath
        if FileManager.default.fileExists(atPath: dotEnvPath) {
            let text: String
            do {
                text = try String(contentsOfFile: dotEnvPath, encoding: .utf8)
            } catch {
                throw ConfigError("cannot read \(dotEnvPath): \(error.localizedDescription)")
            }
            self.dotEnv = Dictionary(try DotEnv.parse(text, path: dotEnvPath), uniquingKeysWith: { _, last in last })
        } else {
            self.dotEnv = [:]
        }
        let path = Self.configPath(arguments: arguments) ?? environment["CARAFE_CONFIG"] ?? self.dotEnv["CARAFE_CONFIG"]
        self.filePath = path
        self.file = try path.map { try Self.readFile($0, formats: formats) } ?? [:]
    }

    /// The value of `--config FILE` or `--config=FILE` in `arguments`, if there is one.
    static func configPath(arguments: [String]) -> String? {
        var found: String?
        for (index, argument) in arguments.enumerated() {
            if argument == "--" { break }
            if argument == "--config", index + 1 < arguments.count { found = arguments[index + 1] }
            if argument.hasPrefix("--config=") { found = String(argument.dropFirst("--config=".count)) }
        }
        return found
    }

    /// The file's object, keys normalized; throws `ConfigError` naming the file and what is wrong.
    /// JSON, or the format in `formats` whose extension the file has.
    static func readFile(_ path: String, formats: [ConfigFileFormat] = []) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(
                "cannot read the config file \(path): \(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")"
            )
        }
        let fileExtension = (path as NSString).pathExtension.lowercased()
        if let format = formats.first(where: { $0.extensions.contains(fileExtension) }) {
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigError("the config file \(path) is not UTF-8 text")
            }
            do {
                return Self.normalizingKeys(try format.parse(text))
            } catch {
                throw ConfigError("the config file \(path) is not valid \(format.name): \(error)")
            }
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw ConfigError("the config file \(path) is not valid JSON: \(detail)")
        }
        guard let dictionary = object as? [String: Any] else {
            throw ConfigError("the config file \(path) must hold a JSON object ({\"name\": value, …})")
        }
        return Self.normalizingKeys(dictionary)
    }

    static func normalizingKeys(_ dictionary: [String: Any]) -> [String: Any] {
        Dictionary(dictionary.map { (ConfigKey.normalized($0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// The environment as the app sees it: the process's, over the `.env` file's.
    package func variable(_ name: String) -> (value: String, source: ConfigSource)? {
        if let value = self.environment[name] { return (value, .environment(variable: name)) }
        if let value = self.dotEnv[name] { return (value, .dotEnv(path: self.dotEnvPath, variable: name)) }
        return nil
    }

    /// The value of the setting `name`, from the highest source that has it.
    func lookup(_ name: String, prefix: String, defaults: [String: Any]) -> (value: ConfigRawValue, source: ConfigSource)? {
        if let found = self.variable(ConfigKey.environmentName(name, prefix: prefix)) { return (.text(found.value), found.source) }
        let key = ConfigKey.normalized(name)
        if let value = self.file[key], let filePath { return (.json(value), .file(path: filePath)) }
        if let value = defaults[key], !(value is NSNull) { return (.json(value), .defaults) }
        return nil
    }

    /// The `serve` object of the configuration file, keys normalized.
    package var serveSection: [String: Any] {
        (self.file["serve"] as? [String: Any]).map(Self.normalizingKeys) ?? [:]
    }
}
