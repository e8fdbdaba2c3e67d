import Carafe
import CarafeDatabase
import CarafeMustache
import CarafeSessions

/// The HTML pages and their forms. Every form carries the session's CSRF token; bad input is
/// answered with the form again (or the error page) and a status that says why, and nothing
/// is written.
struct Pages: Sendable {
    let passwords: PasswordHasher
    /// Checked when no user has the name, so that the answer takes as long as for a real one.
    let dummyHash: String
    let live: LiveTimeline

    func register(on app: App) {
        app.get("/", name: "home") { req in try await self.home(req) }
        app.get("/u/:username", name: "user") { req in try await self.user(req) }
        app.get("/signup") { req in try req.render("account", req.page(["signup": true])) }
        app.get("/login") { req in try req.render("account", req.page()) }
        app.post("/signup") { req in try await self.signUp(req) }
        app.post("/login") { req in try await self.logIn(req) }
        app.post("/logout") { req in
            req.session.clear()
            return Response.redirect(to: "/", status: .seeOther)
        }
        app.post("/post") { req in
            let viewer = try req.requireViewer()
            let post = try await Queries.createPost(req.db, by: viewer, body: try Validation.postBody(req.form["body"]))
            await self.live.announce(post)
            return Response.redirect(to: "/", status: .seeOther)
        }
        app.post("/follow/:username") { req in try await self.follow(req, true) }
        app.post("/unfollow/:username") { req in try await self.follow(req, false) }

        // Errors as pages, in the layout: "Log in first.", "A post cannot be empty.", …
        app.errorHandler(HTTPError.self) { req, error in
            try req.render("error", req.page(["status": "\(error.status.code) \(error.status.reasonPhrase)", "message": error.message]), status: error.status)
        }
    }

    /// The home timeline: two queries (the viewer's counts; a page of posts, authors joined) and one render.
    func home(_ req: Request) async throws -> Response {
        guard let viewer = req.viewer else { return try req.render("welcome", req.page()).makeResponse(for: req) }
        let page = try Validation.page(req)
        guard let profile = try await Queries.profile(req.db, id: viewer.id, viewer: nil) else {
            // The session names a user the database does not have (it was reset): log out.
            req.session.clear()
            return Response.redirect(to: "/login", status: .seeOther)
        }
        let timeline = try await Queries.timeline(req.db, viewer: viewer.id, page: page)
        return try req.render("home", req.page([
            "profile": Self.context(profile),
            "posts": timeline.posts.map(\.templateContext),
            "live": page == 1,
        ].merging(Self.pager(page, hasNext: timeline.hasNext)) { a, _ in a })).makeResponse(for: req)
    }

    func user(_ req: Request) async throws -> HTML {
        let name = req.parameters["username"] ?? ""
        let page = try Validation.page(req)
        let viewer = req.viewer
        guard let profile = try await Queries.profile(req.db, username: name, viewer: viewer?.id) else {
            throw HTTPError(.notFound, "There is no user \(name).")
        }
        let posts = try await Queries.posts(req.db, by: profile.id, page: page)
        var context = req.page([
            "profile": Self.context(profile),
            "posts": posts.posts.map(\.templateContext),
            "title": profile.username,
        ].merging(Self.pager(page, hasNext: posts.hasNext)) { a, _ in a })
        if let viewer, viewer.id != profile.id {
            context[profile.followedByViewer ? "can_unfollow" : "can_follow"] = true
        }
        return try req.render("user", context)
    }

    func signUp(_ req: Request) async throws -> Response {
        let form = { (error: String, status: HTTPStatus) in
            try req.render("account", req.page(["signup": true, "error": error, "username": req.form["username"] ?? ""]), status: status).makeResponse(for: req)
        }
        let username: String
        let password: String
        do {
            username = try Validation.username(req.form["username"])
            password = try Validation.password(req.form["password"])
        } catch let error as HTTPError {
            return try form(error.message, error.status)
        }
        guard let id = try await Queries.createUser(req.db, username: username, passwordHash: try await self.passwords.hash(password)) else {
            return try form("The username \(username) is taken.", .conflict)
        }
        req.logIn(Viewer(id: id, username: username))
        return Response.redirect(to: "/", status: .seeOther)
    }

    func logIn(_ req: Request) async throws -> Response {
        let name = req.form["username"] ?? ""
        let stored = try await Queries.credentials(req.db, username: name)
        let matches = try await self.passwords.verify(req.form["password"] ?? "", against: stored?.passwordHash ?? self.dummyHash)
        guard let stored, matches else {
            return try req.render("account", req.page(["error": "Wrong username or password.", "username": name]), status: .unauthorized)
                .makeResponse(for: req)
        }
        req.logIn(Viewer(id: stored.id, username: stored.username))
        return Response.redirect(to: "/", status: .seeOther)
    }

    func follow(_ req: Request, _ following: Bool) async throws -> Response {
        let name = try await req.setFollowing(following)
        return Response.redirect(to: "/u/\(name)", status: .seeOther)
    }

    static func context(_ profile: Profile) -> [String: Any] {
        ["username": profile.username, "post_count": profile.posts, "following": profile.following, "followers": profile.followers]
    }

    /// `prev` and `next` links' page numbers, where there are such pages.
    static func pager(_ page: Int, hasNext: Bool) -> [String: Any] {
        var links: [String: Any] = ["page": page]
        if page > 1 { links["prev"] = ["number": page - 1] }
        if hasNext { links["next"] = ["number": page + 1] }
        return links
    }
}
