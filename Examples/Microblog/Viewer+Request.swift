import Carafe
import CarafeSessions

extension Request {
    /// The logged-in user (`req.user`, loaded once per request by `app.login`'s loader); nil for a visitor.
    var viewer: Viewer? { self.user(Viewer.self) }

    /// The logged-in user, or a 401 that says to log in: for the JSON API and the live
    /// timeline, whose clients are scripts (pages use `requireUser`, which sends browsers to
    /// the log-in page).
    func requireViewer() throws -> Viewer {
        guard let viewer = self.viewer else {
            if self.basicCredentials != nil {
                throw HTTPError.basicAuthenticationRequired(realm: "microblog", "Wrong username or password.")
            }
            if self.bearerToken != nil { throw HTTPError.bearerTokenRequired(realm: "microblog", invalidToken: true) }
            throw HTTPError(.unauthorized, "Log in first.")
        }
        return viewer
    }

    /// What pages pass beside the template globals (`csrf_token`, `current_user`, `flashes`,
    /// which every template sees): the rules the sign-up form shows, and `extra`.
    func page(_ extra: [String: Any] = [:]) -> [String: Any] {
        var context: [String: Any] = ["username_rule": Validation.usernameRule, "password_rule": Validation.passwordRule]
        if let next = self.nextPage { context["next"] = next }
        return context.merging(extra) { _, new in new }
    }

    /// The form's fields as typed, for showing a refused form again.
    var formValues: [String: String] {
        Dictionary(self.form.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
    }
}

extension Request {
    /// Makes the viewer follow (or stop following) the user named by the `:username` path
    /// parameter, for the page and the API alike; returns that name. 404 for an unknown user,
    /// 400 for oneself.
    @discardableResult
    func setFollowing(_ following: Bool) async throws -> String {
        let viewer = try self.requireViewer()
        let name = self.parameters["username"] ?? ""
        guard let id = try await Queries.userId(self.db, username: name) else { throw HTTPError(.notFound, "There is no user \(name).") }
        guard id != viewer.id else { throw HTTPError(.badRequest, "You cannot follow or unfollow yourself.") }
        if following {
            try await Queries.follow(self.db, follower: viewer.id, followed: id)
        } else {
            try await Queries.unfollow(self.db, follower: viewer.id, followed: id)
        }
        return name
    }
}
