/// Decodes a `Decodable` value from form fields, the way `JSONDecoder` does from JSON.
///
/// Field names map to coding keys:
/// - `name=Ada` fills the property `name`.
/// - `address[city]=Paris` fills `city` in the nested value `address`.
/// - Repeated names (`tag=a&tag=b`) and list names (`tag[]=a&tag[]=b`) fill an array;
///   indexed names (`items[0][name]=a&items[1][name]=b`) fill an array of nested values, in index order.
///
/// Values are read from the field's text:
/// - `Bool` accepts `true`/`false`, `on`/`off`, `yes`/`no` and `1`/`0` in any case. An unchecked
///   checkbox sends nothing, so declare it as `Bool?` (or give it a default in a custom `init(from:)`).
/// - Integers of every width, `Double` and `Float` ignore surrounding whitespace; a value that does
///   not parse or does not fit the type is an error.
/// - When a name is repeated, a single value takes the *last* one (Werkzeug's `to_dict()` takes the first).
/// - A missing field decodes as nil for an optional property and is a `keyNotFound` error otherwise.
///   An empty field (`age=`) also decodes as nil for an optional property, except for `String?`,
///   which decodes as `""`.
///
/// Failures are `DecodingError`s: `keyNotFound` (the missing key is the error's key and its context's
/// `codingPath` is the path of the enclosing value, as with `JSONDecoder`), `typeMismatch` when a field is
/// a single value where nested fields were expected or the other way round, and `dataCorrupted` when a
/// value does not parse. Their `debugDescription` says what was wrong in plain words, such as
/// `expected an Int, got 'abc'`.
public struct URLEncodedFormDecoder: Sendable {
    /// Creates a form decoder.
    public init() {}

    /// Decodes a value of `type` from form fields, as returned by `URLEncodedForm.parse`.
    public func decode<T: Decodable>(_ type: T.Type, from pairs: [(name: String, value: String)]) throws -> T {
        var root = Node()
        for (name, value) in pairs {
            root.insert(value, at: Node.path(ofFieldNamed: name)[...])
        }
        return try ValueDecoder(node: root, codingPath: []).decode(T.self)
    }

    /// Parses `application/x-www-form-urlencoded` text (a form body or a query string), then decodes a value of `type` from it.
    public func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decode(type, from: URLEncodedForm.parse(text))
    }
}

extension URLEncodedFormDecoder {
    /// The fields under one name: the values given to it directly and the nested fields below it.
    fileprivate struct Node {
        /// The most bracketed levels a field name may have; a name with more is kept whole, as a plain name.
        static let maximumDepth = 32

        var values: [String] = []
        var children: [String: Node] = [:]

        /// Splits a field name into the keys it is nested under: `address[city]` is `["address", "city"]`.
        ///
        /// An empty pair of brackets marks a list and adds no level, so `tags[]` is the same field as `tags`.
        /// A name that is not of the form `base[key][key]…` is kept whole, as one key.
        static func path(ofFieldNamed name: String) -> [String] {
            guard let open = name.firstIndex(of: "["), open > name.startIndex else { return [name] }
            var path = [String(name[..<open])]
            var rest = name[open...]
            while !rest.isEmpty {
                guard rest.first == "[", let close = rest.firstIndex(of: "]"), path.count < maximumDepth else {
                    return [name]
                }
                let key = rest[rest.index(after: rest.startIndex)..<close]
                if key.contains("[") { return [name] }
                if !key.isEmpty { path.append(String(key)) }
                rest = rest[rest.index(after: close)...]
            }
            return path
        }

        mutating func insert(_ value: String, at path: ArraySlice<String>) {
            guard let key = path.first else {
                values.append(value)
                return
            }
            children[key, default: Node()].insert(value, at: path.dropFirst())
        }

        /// Whether the field decodes as nil: it has no nested fields and only empty values.
        var isBlank: Bool { children.isEmpty && values.allSatisfy(\.isEmpty) }

        /// The elements of a list: every value given directly, then the nested fields with an index for a name, in index order.
        var elements: [Node] {
            let indexed = children.compactMap { key, node in
                Int(key).flatMap { $0 >= 0 ? (index: $0, node: node) : nil }
            }
            return values.map { Node(values: [$0]) } + indexed.sorted { $0.index < $1.index }.map(\.node)
        }
    }

    /// A type read directly from a field's text.
    fileprivate protocol Scalar: Decodable {
        /// Parses a field's text, or returns nil if it is not a valid value.
        init?(formText text: String)
    }

    /// A coding key for a position in a list.
    fileprivate struct IndexKey: CodingKey {
        let index: Int
        var intValue: Int? { index }
        var stringValue: String { String(index) }

        init(intValue: Int) { index = intValue }
        init?(stringValue: String) { nil }
    }

    /// Decodes the value of one field (or of the whole form, at the root).
    fileprivate struct ValueDecoder: Decoder, SingleValueDecodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            if node.children.isEmpty, let value = node.values.last {
                throw DecodingError.typeMismatch(
                    [String: Any].self,
                    .init(
                        codingPath: codingPath,
                        debugDescription: "expected fields named like '\(fieldName(of: codingPath))[…]', got \(quoted(value))"
                    )
                )
            }
            return KeyedDecodingContainer(KeyedContainer(node: node, codingPath: codingPath))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let elements = node.elements
            if elements.isEmpty && !node.children.isEmpty {
                throw DecodingError.typeMismatch(
                    [Any].self,
                    .init(
                        codingPath: codingPath,
                        debugDescription: "expected a list of values, got nested fields"
                    )
                )
            }
            return UnkeyedContainer(elements: elements, codingPath: codingPath)
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

        func decodeNil() -> Bool { node.isBlank }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            guard let scalarType = T.self as? any Scalar.Type else { return try T(from: self) }
            guard let text = node.values.last else {
                throw DecodingError.typeMismatch(
                    T.self,
                    .init(
                        codingPath: codingPath,
                        debugDescription: "expected \(describe(T.self)), got nested fields"
                    )
                )
            }
            guard let value = scalarType.init(formText: text) else {
                let outOfRange = T.self is any FixedWidthInteger.Type && isInteger(text)
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: codingPath,
                        debugDescription: "expected \(describe(T.self)), got \(quoted(text))"
                            + (outOfRange ? ", which is out of range" : "")
                    )
                )
            }
            return value as! T  // Cannot fail: `scalarType` is `T.self`.
        }
    }

    /// Decodes the nested fields of a value by name.
    fileprivate struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let node: Node
        let codingPath: [any CodingKey]

        var allKeys: [Key] { node.children.keys.compactMap(Key.init(stringValue:)) }

        func contains(_ key: Key) -> Bool { node.children[key.stringValue] != nil }

        func decodeNil(forKey key: Key) throws -> Bool { node.children[key.stringValue]?.isBlank ?? true }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try decoder(for: key).decode(T.self)
        }

        /// An empty field is an empty string, not nil.
        func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
            contains(key) ? try decode(String.self, forKey: key) : nil
        }

        func nestedContainer<NestedKey: CodingKey>(
            keyedBy type: NestedKey.Type,
            forKey key: Key
        ) throws -> KeyedDecodingContainer<NestedKey> {
            try decoder(for: key).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try decoder(for: key).unkeyedContainer()
        }

        func superDecoder() throws -> any Decoder {
            ValueDecoder(node: node.children["super"] ?? Node(), codingPath: codingPath)
        }

        func superDecoder(forKey key: Key) throws -> any Decoder { try decoder(for: key) }

        private func decoder(for key: Key) throws -> ValueDecoder {
            guard let child = node.children[key.stringValue] else {
                throw DecodingError.keyNotFound(
                    key,
                    .init(
                        codingPath: codingPath,
                        debugDescription: "missing required field '\(fieldName(of: codingPath + [key]))'"
                    )
                )
            }
            return ValueDecoder(node: child, codingPath: codingPath + [key])
        }
    }

    /// Decodes the elements of a list in order.
    fileprivate struct UnkeyedContainer: UnkeyedDecodingContainer {
        let elements: [Node]
        let codingPath: [any CodingKey]
        private(set) var currentIndex = 0

        init(elements: [Node], codingPath: [any CodingKey]) {
            self.elements = elements
            self.codingPath = codingPath
        }

        var count: Int? { elements.count }
        var isAtEnd: Bool { currentIndex >= elements.count }

        mutating func decodeNil() throws -> Bool {
            let isNil = try currentDecoder(for: Any?.self).decodeNil()
            if isNil { currentIndex += 1 }
            return isNil
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let value = try currentDecoder(for: T.self).decode(T.self)
            currentIndex += 1
            return value
        }

        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy type: NestedKey.Type
        ) throws -> KeyedDecodingContainer<NestedKey> {
            let container = try currentDecoder(for: [String: Any].self).container(keyedBy: type)
            currentIndex += 1
            return container
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let container = try currentDecoder(for: [Any].self).unkeyedContainer()
            currentIndex += 1
            return container
        }

        mutating func superDecoder() throws -> any Decoder {
            let decoder = try currentDecoder(for: Any.self)
            currentIndex += 1
            return decoder
        }

        private func currentDecoder(for type: Any.Type) throws -> ValueDecoder {
            let path = codingPath + [IndexKey(intValue: currentIndex)]
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(
                    type,
                    .init(
                        codingPath: path,
                        debugDescription: "expected another value in the list, got only \(elements.count)"
                    )
                )
            }
            return ValueDecoder(node: elements[currentIndex], codingPath: path)
        }
    }
}

// MARK: - Scalars

extension String: URLEncodedFormDecoder.Scalar {
    fileprivate init?(formText text: String) { self = text }
}

extension Bool: URLEncodedFormDecoder.Scalar {
    fileprivate init?(formText text: String) {
        switch URLEncodedFormDecoder.trimmed(text).lowercased() {
        case "true", "on", "yes", "1": self = true
        case "false", "off", "no", "0": self = false
        default: return nil
        }
    }
}

extension Double: URLEncodedFormDecoder.Scalar {
    fileprivate init?(formText text: String) { self.init(URLEncodedFormDecoder.trimmed(text)) }
}

extension Float: URLEncodedFormDecoder.Scalar {
    fileprivate init?(formText text: String) { self.init(URLEncodedFormDecoder.trimmed(text)) }
}

extension FixedWidthInteger {
    fileprivate init?(formText text: String) { self.init(URLEncodedFormDecoder.trimmed(text), radix: 10) }
}

extension Int: URLEncodedFormDecoder.Scalar {}
extension Int8: URLEncodedFormDecoder.Scalar {}
extension Int16: URLEncodedFormDecoder.Scalar {}
extension Int32: URLEncodedFormDecoder.Scalar {}
extension Int64: URLEncodedFormDecoder.Scalar {}
extension UInt: URLEncodedFormDecoder.Scalar {}
extension UInt8: URLEncodedFormDecoder.Scalar {}
extension UInt16: URLEncodedFormDecoder.Scalar {}
extension UInt32: URLEncodedFormDecoder.Scalar {}
extension UInt64: URLEncodedFormDecoder.Scalar {}

// MARK: - Helpers

extension URLEncodedFormDecoder {
    /// `text` without leading or trailing whitespace.
    fileprivate static func trimmed(_ text: String) -> Substring {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
            let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return text[first...last]
    }

    /// Whether `text` is written as an integer (digits with an optional sign), whatever its size.
    fileprivate static func isInteger(_ text: String) -> Bool {
        let number = trimmed(text)
        let digits = number.first == "-" || number.first == "+" ? number.dropFirst() : number
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// A type's name with its article, as in "an Int" or "a Bool (true/false, on/off, yes/no, 1/0)".
    fileprivate static func describe(_ type: Any.Type) -> String {
        if type == Bool.self { return "a Bool (true/false, on/off, yes/no, 1/0)" }
        return typeNameWithArticle(type)
    }

    /// A field's value in quotes, cut short if it is long.
    fileprivate static func quoted(_ value: String) -> String {
        value.count > 40 ? "'\(value.prefix(40))…'" : "'\(value)'"
    }

    /// A coding path written as a form field name, as in `address[city]` or `items[0][name]`.
    fileprivate static func fieldName(of path: [any CodingKey]) -> String {
        guard let first = path.first else { return "" }
        return path.dropFirst().reduce(first.stringValue) { $0 + "[\($1.stringValue)]" }
    }
}
