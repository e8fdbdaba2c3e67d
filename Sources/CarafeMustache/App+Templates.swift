import Carafe

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
        let globals = self.templateGlobals
        self.before { req in
            req.storage[Templates.storageKey] = TemplatesInUse(templates: templates, globals: globals)
            return nil
        }
        return templates
    }
}

extension Request {
    /// The template `name` rendered with `context`, as an HTML response (Flask's
    /// `render_template`). Values are HTML-escaped. An unknown template throws `TemplateError`:
    /// a 500 for the client, and a log line naming the template.
    ///
    /// A dictionary context also sees the app's template globals (`App.templateGlobals`:
    /// `csrf_token`, `current_user`, `flashes`, …) and `url_for.NAME`, the path of the route
    /// named NAME; a value in `context` wins over a global of the same name.
    ///
    ///     app.get("/users/:name") { req in
    ///         try req.render("user", ["user": user, "csrf_token": req.csrfToken])
    ///     }
    public func render(_ name: String, _ context: Any = [String: Any](), status: HTTPStatus = .ok) throws -> HTML {
        guard let inUse = self.storage[Templates.storageKey] as? TemplatesInUse else {
            throw TemplateError(description: "req.render(\"\(name)\") needs templates: call `try app.templates(directory:)` before serving")
        }
        let values = context as? [String: Any]
        let full: Any = values.map { RenderContext($0, globals: inUse.globals.all, request: self) } ?? context
        return HTML(try inUse.templates.render(name, full), status: status)
    }
}

extension Templates {
    /// Where a request finds the app's templates in `Request.storage`.
    static let storageKey = "carafe.templates"
}

/// The app's templates and its template globals, as a request finds them.
struct TemplatesInUse: Sendable {
    let templates: Templates
    let globals: TemplateGlobals
}
