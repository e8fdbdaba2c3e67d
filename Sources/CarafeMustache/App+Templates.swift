import CarafeCore

extension App {
    /// Loads the Mustache templates under `directory` (Flask's `templates/`) for `req.render`.
    ///
    ///     try app.templates(directory: "Templates")
    ///     app.get("/") { req in try req.render("index", ["title": "Home", "posts": posts]) }
    ///
    /// Throws `TemplateError` if a template does not parse or includes a partial that does not
    /// exist, so that a broken template stops the app at start, not at the first request.
    /// With `reload: true` (for development) templates are read again at every render.
    @discardableResult
    public func templates(directory: String, reload: Bool = false) throws -> Templates {
        let templates = try Templates(directory: directory, reload: reload)
        self.storage[Templates.Key.self] = templates
        return templates
    }
}

extension Request {
    /// The template `name` rendered with `context`, as an HTML response (Flask's
    /// `render_template`). Values are HTML-escaped. An unknown template throws `TemplateError`:
    /// a 500 for the client, and a log line naming the template.
    ///
    ///     app.get("/users/:name") { req in
    ///         try req.render("user", ["user": user, "csrf_token": req.csrfToken])
    ///     }
    public func render(_ name: String, _ context: Any = [String: Any](), status: HTTPStatus = .ok) throws -> HTML {
        guard let templates = self.appStorage[Templates.Key.self] else {
            throw TemplateError(description: "req.render(\"\(name)\") needs templates: call `try app.templates(directory:)` before serving")
        }
        return HTML(try templates.render(name, context), status: status)
    }
}

extension Templates {
    /// Where the app keeps its templates: app-wide, so an error page rendered before any hook
    /// ran (a refused CSRF token, a 413) finds them too.
    enum Key: StorageKey { typealias Value = Templates }
}
