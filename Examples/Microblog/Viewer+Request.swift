import Carafe
import CarafeSessions

extension Request {
    /// The logged-in user, from the session; nil for a visitor.
    var viewer: Viewer? {
        guard let id = self.session["user_id"].flatMap(Int.init), let name = self.session["username"] else { return nil }
        return Viewer(id: id, username: name)
    }

    /// The logged-in user, or a 401 that says to log in.
    func requireViewer() throws -> Viewer {
        guard let viewer = self.viewer else { throw HTTPError(.unauthorized, "Log in first.") }
        return viewer
    }

    /// Logs `viewer` in: the session cookie holds their id and name from now on.
    func logIn(_ viewer: Viewer) {
        self.session["user_id"] = String(viewer.id)
        self.session["username"] = viewer.username
    }

    /// What every page's layout needs (the viewer, the CSRF token for its forms), plus `extra`.
    func page(_ extra: [String: Any] = [:]) -> [String: Any] {
        var context: [String: Any] = ["csrf_token": self.csrfToken]
        if let viewer = self.viewer { context["viewer"] = viewer.username }
        return context.merging(extra) { _, new in new }
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
