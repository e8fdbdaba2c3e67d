import CarafeCore
import Mustache

/// What a template renders with: the handler's values, then the app's template globals
/// (`TemplateGlobals`), each computed once, when the template first names it, then `url_for`.
final class RenderContext: MustacheParent {
    private let values: [String: Any]
    private let globals: [String: TemplateGlobals.Value]
    private let request: Request
    private var computed: [String: Any?] = [:]

    init(_ values: [String: Any], globals: [String: TemplateGlobals.Value], request: Request) {
        self.values = values
        self.globals = globals
        self.request = request
    }

    func child(named name: String) -> Any? {
        if let value = self.values[name] { return value }
        if let value = self.computed[name] { return value }
        if name == "url_for" { return URLFor(request: self.request) }
        guard let global = self.globals[name] else { return nil }
        let value = global(self.request)
        self.computed[name] = .some(value)
        return value
    }
}
