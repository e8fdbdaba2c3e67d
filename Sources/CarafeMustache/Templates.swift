import CarafeCore
import Foundation
import Mustache
import Synchronization

/// A directory of Mustache templates, parsed once (Flask's `templates/` folder).
///
/// Each `NAME.mustache` file under the directory is the template `NAME`; one in a subdirectory
/// is `sub/NAME`. Templates include each other as partials, `{{> post}}`, and extend a layout
/// with blocks: `{{< layout}}{{$body}}…{{/body}}{{/layout}}`. Values are HTML-escaped:
/// `{{title}}` writes `&lt;b&gt;` for `<b>`; `{{{html}}}` writes its value as it is, for HTML you
/// made yourself.
public final class Templates: Sendable {
    /// The directory the templates come from.
    public let directory: String
    /// Whether every render reads the directory again, so that edits show without a restart.
    public let reloads: Bool
    private let loaded: Mutex<Loaded>

    /// The parsed templates and their names.
    struct Loaded {
        var library: MustacheLibrary
        var names: Set<String>
    }

    /// Reads and parses every `.mustache` file under `directory`. Throws `TemplateError` naming
    /// the file, line and column of a syntax error, a partial that names no template, or a
    /// directory that does not exist.
    ///
    /// - Parameter reload: read the templates again at every render (for development: it costs
    ///   a parse of every file per page).
    public init(directory: String, reload: Bool = false) throws {
        self.directory = directory
        self.reloads = reload
        self.loaded = Mutex(try Self.load(directory))
    }

    /// The names of the templates.
    public var names: [String] { self.loaded.withLock { $0.names.sorted() } }

    /// `name` rendered with `context`: a dictionary (`["user": user, "posts": posts]`) or any
    /// value whose properties the template names. Throws `TemplateError.notFound` for an
    /// unknown name.
    public func render(_ name: String, _ context: Any = [String: Any]()) throws -> String {
        if self.reloads {
            let fresh = try Self.load(self.directory)
            self.loaded.withLock { $0 = fresh }
        }
        let library = self.loaded.withLock { $0.library }
        guard let text = library.render(context, withTemplate: name) else {
            throw TemplateError(description: "no template '\(name)' in \(self.directory) (it has: \(self.names.joined(separator: ", ")))")
        }
        return text
    }

    /// Parses every template under `directory`, checks that the partials they name exist.
    static func load(_ directory: String) throws -> Loaded {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TemplateError(description: "the template directory \(directory) does not exist")
        }
        var library = MustacheLibrary()
        var sources: [String: String] = [:]
        let root = URL(fileURLWithPath: directory)
        for path in (FileManager.default.subpaths(atPath: directory) ?? []).sorted() where path.hasSuffix(".mustache") {
            let file = root.appendingPathComponent(path)
            let text: String
            do {
                text = try String(contentsOf: file, encoding: .utf8)
            } catch {
                throw TemplateError(description: "cannot read \(file.path): \(error.localizedDescription)")
            }
            let name = String(path.dropLast(".mustache".count))
            do {
                library.register(try MustacheTemplate(string: FastHTML.pragma + text), named: name)
            } catch let error as MustacheTemplate.ParserError {
                let context = error.context
                throw TemplateError(
                    description:
                        "\(file.path):\(context.lineNumber - 1):\(context.columnNumber): \(error.error) in: \(context.line.trimmingCharacters(in: .whitespaces))"
                )
            }
            sources[name] = text
        }
        let names = Set(sources.keys)
        for (name, text) in sources.sorted(by: { $0.key < $1.key }) {
            for partial in Self.partials(in: text) where !names.contains(partial) {
                throw TemplateError(
                    description: "\(directory)/\(name).mustache includes '\(partial)', which is no template in \(directory)"
                )
            }
        }
        return Loaded(library: library, names: names)
    }

    /// The names in `{{> name}}` and `{{< name}}` tags. Templates that change their delimiters
    /// (`{{=<% %>=}}`) are not looked into.
    static func partials(in text: String) -> [String] {
        guard !text.contains("{{=") else { return [] }
        return text.matches(of: Self.partialTag).map { String($0.output.1) }
    }

    nonisolated(unsafe) private static let partialTag = #/\{\{\s*[<>]\s*([0-9A-Za-z.\-_?()/]+)\s*\}\}/#
}

/// A template that cannot be loaded or rendered: the description says which and why.
public struct TemplateError: Error, CustomStringConvertible {
    /// Which template, and what is wrong with it: `Templates/bad.mustache:2:31: …`.
    public let description: String
}

/// HTML escaping for every template, by `HTML.escape`: a pass over the UTF-8 bytes that
/// returns the text itself when nothing needs escaping, where swift-mustache's own escape
/// looks up each `Character` in a dictionary and appends it to a new string. Each template's
/// text starts with a pragma line that selects it (a standalone tag: it writes nothing, and
/// error line numbers are given back without it).
enum FastHTML: MustacheContentType {
    case html

    static let name = "CARAFE_HTML"

    /// The line put before each template's text; registers the content type on first use.
    static var pragma: String {
        _ = Self.registered
        return "{{% CONTENT_TYPE: \(Self.name) }}\n"
    }

    private static let registered: Void = MustacheContentTypes.register(FastHTML.html, named: FastHTML.name)

    func escapeText(_ text: String) -> String {
        HTML.escape(text)
    }
}
