import CarafeCore
import Mustache

/// `url_for` in templates (Flask's `url_for`): the path of a named route, after the proxy's
/// prefix.
///
/// - `{{url_for.home}}`: a route without path parameters.
/// - `{{url_for.user}}` for `/u/:username`: each parameter filled from the value of the same
///   name where the tag stands (`{{#posts}}<a href="{{url_for.user}}">{{/posts}}` uses each
///   post's `username`), percent-encoded.
/// - `{{#url_for.user}}username=author{{/url_for.user}}`: the parameter `username` from the
///   value `author` (any Mustache name, dotted too); pairs separated by spaces, a parameter not
///   listed comes from its own name.
///
/// An unknown route name renders nothing, as any unknown Mustache name does; a parameter
/// without a value renders as an empty segment.
struct URLFor: MustacheParent {
    let request: Request

    func child(named name: String) -> Any? {
        guard let parameters = self.request.parameters(ofRoute: name) else { return nil }
        if parameters.isEmpty { return try? self.request.url(for: name) }
        // The path with a marker for each parameter, then the markers swapped for tags: a
        // template of the path, which Mustache renders where the lambda stands.
        let markers = Dictionary(uniqueKeysWithValues: parameters.enumerated().map { ($1.name, "carafe-url-for-\($0)-") })
        guard let path = try? self.request.url(for: name, markers) else { return nil }
        _ = URLForContentTypes.registered
        return MustacheLambda { (text: String) -> Any? in
            let sources = Self.sources(text)
            var template = "{{% CONTENT_TYPE: \(URLSegmentContentType.name)}}" + path
            for (index, parameter) in parameters.enumerated() {
                let value = sources[parameter.name] ?? parameter.name
                let tag =
                    parameter.isCatchAll
                    ? "{{% CONTENT_TYPE: \(URLPathContentType.name)}}{{\(value)}}{{% CONTENT_TYPE: \(URLSegmentContentType.name)}}"
                    : "{{\(value)}}"
                template = template.replacingOccurrences(of: "carafe-url-for-\(index)-", with: tag)
            }
            return template
        }
    }

    /// `username=author other=x` → `["username": "author", "other": "x"]`; names that are not
    /// Mustache names are dropped.
    static func sources(_ text: String) -> [String: String] {
        var sources: [String: String] = [:]
        for pair in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "&" }) {
            let sides = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard sides.count == 2, sides.allSatisfy(Self.isName) else { continue }
            sources[sides[0]] = sides[1]
        }
        return sources
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
    }
}

/// A value inside a path segment: every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`)
/// percent-encoded, which also makes it safe in HTML text and attributes.
struct URLSegmentContentType: MustacheContentType {
    static let name = "CARAFE_URL_SEGMENT"

    func escapeText(_ text: String) -> String {
        Self.escape(text, keeping: [])
    }

    static func escape(_ text: String, keeping kept: Set<UInt8>) -> String {
        var escaped = ""
        for byte in text.utf8 {
            let isUnreserved =
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "-._~".utf8.contains(byte)
            if isUnreserved || kept.contains(byte) {
                escaped.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                escaped += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return escaped
    }
}

/// The value of a catch-all parameter (`*path`): as `URLSegmentContentType`, keeping `/`.
struct URLPathContentType: MustacheContentType {
    static let name = "CARAFE_URL_PATH"

    func escapeText(_ text: String) -> String {
        URLSegmentContentType.escape(text, keeping: [UInt8(ascii: "/")])
    }
}

/// Registers the content types `url_for` renders with, once per process.
enum URLForContentTypes {
    static let registered: Void = {
        MustacheContentTypes.register(URLSegmentContentType(), named: URLSegmentContentType.name)
        MustacheContentTypes.register(URLPathContentType(), named: URLPathContentType.name)
    }()
}
