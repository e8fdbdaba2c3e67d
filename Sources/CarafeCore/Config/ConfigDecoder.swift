import Foundation

/// Decodes a settings type one property at a time from `ConfigSources`: each value is read
/// from the highest source that has it, converted from text where it came from the
/// environment, and recorded with its source; a value that does not convert is a
/// `ConfigError` naming the setting, the value and the source.
struct ConfigDecoder: Decoder {
    let lookup: (String) -> (value: ConfigRawValue, source: ConfigSource)?
    let record: (ConfigEntry) -> Void
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Container<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw ConfigError("a settings type must be a struct or class of named properties, not a list")
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw ConfigError("a settings type must be a struct or class of named properties, not a single value")
    }

    struct Container<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let decoder: ConfigDecoder
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { [] }

        func contains(_ key: Key) -> Bool {
            guard self.decoder.lookup(key.stringValue) != nil else {
                self.decoder.record(ConfigEntry(name: key.stringValue, value: nil, source: .defaults))
                return false
            }
            return true
        }

        func decodeNil(forKey key: Key) throws -> Bool {
            guard let found = self.decoder.lookup(key.stringValue) else { return true }
            if case .json(let value) = found.value, value is NSNull { return true }
            return false
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try self.value(type, key) }

        private func value<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
            guard let found = self.decoder.lookup(key.stringValue) else {
                throw ConfigError("Invalid configuration: \(key.stringValue) is required: no default, and no source sets it")
            }
            let entry = ConfigEntry(name: key.stringValue, value: found.value.text, source: found.source)
            do {
                let value = try ConfigDecoder.convert(found.value, to: T.self)
                self.decoder.record(entry)
                return value
            } catch {
                throw ConfigError(entry: entry, problem: ConfigDecoder.expectation(T.self, error))
            }
        }

        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try self.value(type, key) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try self.value(type, key) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try self.value(type, key) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try self.value(type, key) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try self.value(type, key) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try self.value(type, key) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try self.value(type, key) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try self.value(type, key) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try self.value(type, key) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try self.value(type, key) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try self.value(type, key) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try self.value(type, key) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try self.value(type, key) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try self.value(type, key) }

        func nestedContainer<NestedKey: CodingKey>(
            keyedBy type: NestedKey.Type,
            forKey key: Key
        ) throws -> KeyedDecodingContainer<NestedKey> {
            throw ConfigError(
                "\(key.stringValue): a nested group of settings is not supported; give the value a Decodable type of its own (it is read as JSON)"
            )
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            throw ConfigError("\(key.stringValue): declare it as an array type (it is read as JSON)")
        }

        func superDecoder() throws -> any Decoder { self.decoder }
        func superDecoder(forKey key: Key) throws -> any Decoder { self.decoder }
    }

    /// `value` as a `T`: text from the environment is parsed (`true`/`false`, numbers), else
    /// read as JSON, else as a JSON string; a JSON value is decoded as JSON.
    static func convert<T: Decodable>(_ value: ConfigRawValue, to type: T.Type) throws -> T {
        switch value {
        case .text(let text):
            if let string = text as? T { return string }
            if T.self == Bool.self {
                switch text.lowercased() {
                case "1", "true", "yes", "on": return true as! T
                case "0", "false", "no", "off", "": return false as! T
                default: throw ConfigError("not a boolean")
                }
            }
            if let integerType = T.self as? any FixedWidthInteger.Type {
                guard let integer = Self.integer(integerType, text) as? T else { throw ConfigError("not a whole number") }
                return integer
            }
            if T.self == Double.self, let number = Double(text) { return number as! T }
            if T.self == Float.self, let number = Float(text) { return number as! T }
            if let decoded = try? JSONDecoder().decode(T.self, from: Data(text.utf8)) { return decoded }
            return try JSONDecoder().decode(T.self, from: try JSONEncoder().encode(text))
        case .json(let json):
            if T.self == String.self, !(json is String) { throw ConfigError("not text") }
            let data = try JSONSerialization.data(withJSONObject: json, options: .fragmentsAllowed)
            return try JSONDecoder().decode(T.self, from: data)
        }
    }

    private static func integer<I: FixedWidthInteger>(_ type: I.Type, _ text: String) -> I? {
        I(text.trimmingCharacters(in: .whitespaces))
    }

    /// What a value of type `T` must look like, for the message.
    static func expectation<T>(_ type: T.Type, _ error: any Error) -> String {
        if T.self == Bool.self { return "expected true or false (also 1/0, yes/no, on/off)" }
        if let integerType = T.self as? any FixedWidthInteger.Type {
            return "expected a whole number from \(Self.range(integerType))"
        }
        if T.self == Double.self || T.self == Float.self { return "expected a number" }
        if T.self == String.self { return "expected text" }
        if let decoding = error as? DecodingError {
            switch decoding {
            case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context):
                return "expected a value of type \(T.self): \(context.debugDescription)"
            @unknown default: break
            }
        }
        return "expected a value of type \(T.self)"
    }

    private static func range<I: FixedWidthInteger>(_ type: I.Type) -> String {
        "\(I.min) to \(I.max)"
    }
}
