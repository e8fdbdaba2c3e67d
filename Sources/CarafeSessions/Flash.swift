import CarafeCore
import Foundation

/// A message kept in the session for the next page that shows it (Flask's `flash`): "Posted.",
/// "Welcome, ann!". Shown once: reading the messages removes them.
public struct FlashMessage: Codable, Sendable, Hashable {
    /// What the user reads.
    public let message: String
    /// What kind of message: "message" (the default), "success", "error", "warning"…, for the
    /// page's styling.
    public let category: String

    public init(_ message: String, category: String = "message") {
        self.message = message
        self.category = category
    }
}

extension Request {
    /// Keeps `message` in the session until a page shows it: after a POST, before the redirect.
    ///
    ///     req.flash("Your post is up.", category: "success")
    ///     return Response.redirect(to: "/", status: .seeOther)
    ///
    /// Templates list them with the `flashes` global:
    /// `{{#flashes}}<p class="flash {{category}}">{{message}}</p>{{/flashes}}`.
    public func flash(_ message: String, category: String = "message") {
        var messages = self.session[FlashMessage.sessionKey, as: [FlashMessage].self] ?? []
        messages.append(FlashMessage(message, category: category))
        self.session[FlashMessage.sessionKey, as: [FlashMessage].self] = messages
    }

    /// The messages flashed and not shown yet, oldest first, removed from the session (Flask's
    /// `get_flashed_messages`): each is shown once. Within one request the same messages are
    /// returned again, so that a page and its layout can both ask.
    public func flashedMessages() -> [FlashMessage] {
        if let taken = self.storage[FlashMessage.ShownKey.self] { return taken }
        let messages = self.session[FlashMessage.sessionKey, as: [FlashMessage].self] ?? []
        if !messages.isEmpty { self.session[FlashMessage.sessionKey] = nil }
        self.storage[FlashMessage.ShownKey.self] = messages
        return messages
    }
}

extension FlashMessage {
    static let sessionKey = "_flashes"
    /// Where a request keeps the messages it has taken from the session.
    enum ShownKey: StorageKey { typealias Value = [FlashMessage] }
}

extension App {
    /// The session's template globals: `csrf_token` and `flashes` (each `message` and `category`).
    func registerSessionTemplateGlobals() {
        self.templateGlobals.set("csrf_token") { req in req.csrfToken }
        self.templateGlobals.set("flashes") { req in
            req.flashedMessages().map { ["message": $0.message, "category": $0.category] }
        }
    }
}
