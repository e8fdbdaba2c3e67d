import Synchronization

/// Values every template sees without the handler passing them (Flask's context processors
/// and `app.jinja_env.globals`): the CSRF token, the current user, flashed messages,
/// `url_for`. Modules register theirs (`app.sessions` adds `csrf_token` and `flashes`,
/// `app.login` adds `current_user`); the app adds its own:
///
///     app.templateGlobals.set("site_name") { _ in "Microblog" }
///
/// Each is computed only when a template uses it, once per render, from the request; a value
/// the handler passes under the same name wins.
public final class TemplateGlobals: Sendable {
    public typealias Value = @Sendable (Request) -> Any?
    private let values = Mutex<[String: Value]>([:])

    public init() {}

    /// Makes `name` available to every template, computed from the request.
    public func set(_ name: String, _ value: @escaping Value) {
        self.values.withLock { $0[name] = value }
    }

    /// The registered globals, by name.
    public var all: [String: Value] { self.values.withLock { $0 } }
}

extension TemplateGlobals {
    /// Where the app keeps them.
    enum Key: StorageKey { typealias Value = TemplateGlobals }
}

extension App {
    /// What every template sees without the handler passing it (see `TemplateGlobals`).
    public var templateGlobals: TemplateGlobals {
        self.storage.get(TemplateGlobals.Key.self) { TemplateGlobals() }
    }
}

extension Request {
    /// The serving app's template globals; nil if nothing registered any.
    public var templateGlobals: TemplateGlobals? { self.appStorage[TemplateGlobals.Key.self] }
}
