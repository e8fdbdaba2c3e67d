/// How a default error response (a 404 or 405 from routing, a 400 or 413 from decoding, a 500)
/// is written: `{"error": …, "status": …}`, a small HTML page, or a line of text.
public enum ErrorFormat: Sendable, Hashable {
    case json
    case html
    case text

    /// The client's preference: JSON when `Accept` ranks a JSON type at least as high as HTML,
    /// HTML when it asks for `text/html` (a browser), else text (curl's `*/*`).
    init(accept headers: [Substring]) {
        var json = 0.0, html = 0.0
        for range in headers.flatMap({ $0.split(separator: ",") }) {
            let pieces = range.split(separator: ";").map { $0.trimmingSpaces.lowercased() }
            guard let type = pieces.first else { continue }
            let q = pieces.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if type == "application/json" || type.hasSuffix("+json") { json = max(json, q) }
            if type == "text/html" || type == "application/xhtml+xml" { html = max(html, q) }
        }
        if json > 0 && json >= html {
            self = .json
        } else if html > 0 {
            self = .html
        } else {
            self = .text
        }
    }

    /// The HTML page for `error`, as Werkzeug's: the status as title and heading, the message.
    static func page(_ error: HTTPError) -> String {
        let title = "\(error.status.code) \(HTML.escape(error.status.reasonPhrase))"
        return
            "<!doctype html>\n<html lang=en>\n<title>\(title)</title>\n<h1>\(HTML.escape(error.status.reasonPhrase))</h1>\n<p>\(HTML.escape(error.message))</p>\n"
    }
}

extension RouteBuilder {
    /// Writes the default error responses of this blueprint's routes, and of paths under its
    /// prefix that no route matches, as `format` whatever the client asks: `.json` for an API.
    /// Without it they follow the client's `Accept`. Error handlers answer as they like.
    @discardableResult
    public func errorFormat(_ format: ErrorFormat) -> Self {
        self.blueprint.register("an error format") { $0.hooks.errorFormat = format }
        return self
    }
}
