import CarafeCore
import Foundation
import TOMLKit

extension AppConfig {
    /// Reads `--config FILE.toml` (or `$CARAFE_CONFIG`) as TOML: top-level keys are the
    /// settings (`page_size = 20`), the `[serve]` table holds `serve`'s flags (`workers = 4`).
    /// Call it before the first `load`. A file that is not valid TOML stops the start naming the
    /// file, the line and the column; a value of the wrong type names the file, the key and the
    /// value, as for JSON.
    public func useTOML() {
        if !self.fileFormats.contains(where: { $0.extensions.contains("toml") }) {
            self.fileFormats.append(.toml)
        }
    }
}

extension ConfigFileFormat {
    /// TOML 1.0 through TOMLKit (toml++). Dates and times become their TOML text.
    public static let toml = ConfigFileFormat(name: "TOML", extensions: ["toml"]) { text in
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw TOMLConfigError(description: "line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        }
        return TOMLConfigValues.object(table)
    }
}

/// Where a TOML file is wrong, for `ConfigError`'s message.
struct TOMLConfigError: Error, CustomStringConvertible {
    let description: String
}

/// TOML values as the JSON-like values `app.config` decodes from.
enum TOMLConfigValues {
    static func object(_ table: TOMLTable) -> [String: Any] {
        var object: [String: Any] = [:]
        for key in table.keys {
            if let value = table[key] { object[key] = self.value(value.tomlValue) }
        }
        return object
    }

    static func value(_ value: TOMLValue) -> Any {
        switch value.type {
        case .table: return value.table.map(self.object) ?? [:]
        case .array: return value.array.map { $0.map { self.value($0.tomlValue) } } ?? []
        case .string: return value.string ?? ""
        case .int: return value.int ?? 0
        case .double: return value.double ?? 0
        case .bool: return value.bool ?? false
        case .date, .time, .dateTime: return value.debugDescription
        }
    }
}
