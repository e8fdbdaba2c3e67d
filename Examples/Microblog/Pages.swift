import Carafe
import CarafeDatabase
import CarafeMustache
import CarafeSessions

/// The HTML pages and their forms. Every form carries the session's CSRF token; a refused form
/// is shown again with each field's errors and what was typed (422), and nothing is written;
/// what worked says so on the next page (a flashed message).
struct Pages: Sendable {
    let passwords: PasswordHasher
    /// Checked when no user has the name, so that the answer takes as long as for a real one.
    let dummyHash: String
    let live: LiveTimeline
    let settings: Settings

    func register(on app: App) {
        app.get("/", name: "home") { req in try await self.home(req) }
        app.get("/u/:username", name: "user") { req in try await self.user(req) }
        app.get("/signup", name: "signup") { req in try req.render("account", req.page(["signup": true])) }
        app.get("/login", name: "login") { req in try req.render("account", req.page()) }
        app.post("/signup") { req in try await self.signUp(req) }
        app.post("/login") { req in try await self.logIn(req) }
        app.post("/logout") { req in
            if let viewer = req.viewer {
                // Every session of this user ends, this one and any copy of its cookie.
                try await Queries.endSessions(req.db, userId: viewer.id)
            }
            req.logOut()
            req.flash("You are logged out.")
            return Response.redirect(to: "/", status: .seeOther)
        }
        app.post("/post") { req in try await self.post(req) }
        app.post("/follow/:username", name: "follow") { req in try await self.follow(req, true) }
        app.post("/unfollow/:username", name: "unfollow") { req in try await self.follow(req, false) }

        // Errors as pages, in the layout: "There is no user bob.", …
        app.errorHandler(HTTPError.self) { req, error in
            try req.render(
                "error",
                req.page(["status": "\(error.status.code) \(error.status.reasonPhrase)", "message": error.message]),
                status: error.status
            )
        }
    }

    /// The home timeline: two queries (the viewer's counts; a page of posts, authors joined) and
    /// one render. `extra` holds a refused post's errors and text.
    func home(_ req: Request, extra: [String: Any] = [:], status: HTTPStatus = .ok) async throws -> Response {
        guard let viewer = req.viewer else { return try req.render("welcome", req.page()).makeResponse(for: req) }
        let page = try Validation.page(req)
        guard let profile = try await Queries.profile(req.db, id: viewer.id, viewer: nil) else {
            req.logOut()
            return Response.redirect(to: "/login", status: .seeOther)
        }
        let timeline = try await Queries.timeline(req.db, viewer: viewer.id, page: page, perPage: self.settings.pageSize)
        return try req.render(
            "home",
            req.page(
                [
                    "profile": Self.context(profile),
                    "posts": timeline.posts.map(\.templateContext),
                    "live": page == 1,
                    "max_post_length": Validation.maxPostLength,
                ].merging(Self.pager(page, hasNext: timeline.hasNext)) { a, _ in a }.merging(extra) { _, new in new }
            ),
            status: status
        ).makeResponse(for: req)
    }

    func user(_ req: Request) async throws -> HTML {
        let name = req.parameters["username"] ?? ""
        let page = try Validation.page(req)
        let viewer = req.viewer
        guard let profile = try await Queries.profile(req.db, username: name, viewer: viewer?.id) else {
            throw HTTPError(.notFound, "There is no user \(name).")
        }
        let posts = try await Queries.posts(req.db, by: profile.id, page: page, perPage: self.settings.pageSize)
        var context = req.page(
            [
                "profile": Self.context(profile),
                "posts": posts.posts.map(\.templateContext),
                "title": profile.username,
            ].merging(Self.pager(page, hasNext: posts.hasNext)) { a, _ in a }
        )
        if let viewer, viewer.id != profile.id {
            context[profile.followedByViewer ? "can_unfollow" : "can_follow"] = true
        }
        return try req.render("user", context)
    }

    /// A post from the home page's form; refused, the home page again with the text as typed.
    func post(_ req: Request) async throws -> Response {
        let viewer = try req.requireUser(Viewer.self)
        let post: NewPost
        do {
            post = try req.decodeValid(NewPost.self)
        } catch let failure as ValidationFailure {
            return try await self.home(req, extra: failure.templateContext(values: req.formValues), status: .unprocessableEntity)
        }
        let stored = try await Queries.createPost(req.db, by: viewer, body: post.body)
        await self.live.announce(stored)
        req.flash("Your post is up.", category: "success")
        return Response.redirect(to: "/", status: .seeOther)
    }

    func signUp(_ req: Request) async throws -> Response {
        func again(_ failure: ValidationFailure, _ status: HTTPStatus) throws -> Response {
            try req.render(
                "account",
                req.page(["signup": true].merging(failure.templateContext(values: req.formValues)) { _, new in new }),
                status: status
            )
            .makeResponse(for: req)
        }
        let form: SignUpForm
        do {
            form = try req.decodeValid(SignUpForm.self)
        } catch let failure as ValidationFailure {
            return try again(failure, .unprocessableEntity)
        }
        guard
            let id = try await Queries.createUser(
                req.db,
                username: form.username,
                passwordHash: try await self.passwords.hash(form.password)
            )
        else {
            return try again(ValidationFailure(field: "username", "\(form.username) is taken (names are the same in any case)"), .conflict)
        }
        req.logIn(Viewer(id: id, username: form.username, version: 0))
        req.flash("Welcome, \(form.username)! Find people to follow on their pages.", category: "success")
        return Response.redirect(to: "/", status: .seeOther)
    }

    func logIn(_ req: Request) async throws -> Response {
        let name = req.form["username"] ?? ""
        let stored = try await Queries.credentials(req.db, username: name)
        let matches = try await self.passwords.verify(req.form["password"] ?? "", against: stored?.passwordHash ?? self.dummyHash)
        guard let stored, matches else {
            return try req.render(
                "account",
                req.page(["error": "Wrong username or password.", "values": ["username": name]]),
                status: .unauthorized
            )
            .makeResponse(for: req)
        }
        req.logIn(stored.viewer)
        req.flash("Welcome back, \(stored.username).")
        return Response.redirect(to: req.nextPage ?? "/", status: .seeOther)
    }

    func follow(_ req: Request, _ following: Bool) async throws -> Response {
        let name = try await req.setFollowing(following)
        return Response.redirect(to: try req.url(for: "user", ["username": name]), status: .seeOther)
    }

    static func context(_ profile: Profile) -> [String: Any] {
        var context: [String: Any] = [
            "username": profile.username,
            "post_count": profile.posts,
            "posts_text": Formatting.count(profile.posts, "post"),
            "following": profile.following,
            "followers_text": Formatting.count(profile.followers, "follower"),
            "joined": Formatting.ago(profile.createdAt),
        ]
        if let avatar = profile.avatar { context["avatar"] = avatar }
        return context
    }

    /// `prev` and `next` links' page numbers, where there are such pages.
    static func pager(_ page: Int, hasNext: Bool) -> [String: Any] {
        var links: [String: Any] = ["page": page]
        if page > 1 { links["prev"] = ["number": page - 1] }
        if hasNext { links["next"] = ["number": page + 1] }
        return links
    }
}
