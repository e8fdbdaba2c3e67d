import Carafe
import CarafeDatabase
import CarafeSessions

/// The JSON API under `/api`: the same data as the pages, as JSON. It authenticates with the
/// session cookie, as the pages do, so its writes need the session's CSRF token in an
/// `X-CSRF-Token` header: `GET /api/session` gives it.
///
///     GET  /api/session                   {"csrf_token": "…", "username": "ann"} (no username: logged out)
///     POST /api/login                     {"username", "password"} → the profile; a new session, whose
///                                         CSRF token is in the X-CSRF-Token response header
///     GET  /api/timeline?page=N           the home timeline: {"page", "per_page", "has_next", "posts"}
///     GET  /api/users/NAME                the profile: counts, "followed_by_viewer"
///     GET  /api/users/NAME/posts?page=N   the user's posts, a page like the timeline's
///     POST /api/posts                     {"body": "…"} → 201 and the post
///     POST /api/follow/NAME               → the profile of NAME
///     POST /api/unfollow/NAME             → the profile of NAME
///     POST /api/tokens                    → 201 {"token": "…"}, for `Authorization: Bearer …` (shown once)
///
/// Errors are `{"error": "what was wrong", "status": 400}` with that status; refused input is a
/// 422 that also says what is wrong with each field: `"fields": {"body": ["A post cannot be empty."]}`.
struct API: Sendable {
    let pages: Pages

    struct SessionInfo: Content {
        let username: String?
        let csrf_token: String
    }
    struct Credentials: Content {
        let username: String?
        let password: String?
    }
    struct Failure: Content {
        let error: String
        let status: UInt
    }
    struct Token: Content { let token: String }

    func blueprint() -> Blueprint {
        let api = Blueprint("api", prefix: "/api")
        api.errorHandler(HTTPError.self) { _, error in
            JSON(Failure(error: error.message, status: error.status.code), status: error.status)
        }
        api.get("/session") { req in SessionInfo(username: req.viewer?.username, csrf_token: req.csrfToken) }
        api.post("/login") { req in
            let credentials = try req.decode(Credentials.self)
            let name = credentials.username ?? ""
            let stored = try await Queries.credentials(req.db, username: name)
            let matches = try await self.pages.passwords.verify(
                credentials.password ?? "",
                against: stored?.passwordHash ?? self.pages.dummyHash
            )
            guard let stored, matches else { throw HTTPError(.unauthorized, "Wrong username or password.") }
            req.logIn(stored.viewer)
            // Logging in starts a new session with a new CSRF token: here it is.
            var response = try (try await Queries.profile(req.db, id: stored.id, viewer: stored.id)).makeResponse(for: req)
            response.headers.replaceOrAdd(name: "x-csrf-token", value: req.csrfToken)
            return response
        }
        // A token for scripts: they send it as `Authorization: Bearer …` instead of a password.
        api.post("/tokens") { req in
            let viewer = try req.requireViewer()
            let token = APIToken.make()
            try await Queries.addToken(req.db, hash: APIToken.hash(token), userId: viewer.id)
            return JSON(Token(token: token), status: .created)
        }
        api.get("/timeline") { req in
            let viewer = try req.requireViewer()
            let page = try Validation.page(req)
            let perPage = self.pages.settings.pageSize
            let timeline = try await Queries.timeline(req.db, viewer: viewer.id, page: page, perPage: perPage)
            return PostPage(page: page, perPage: perPage, hasNext: timeline.hasNext, posts: timeline.posts)
        }
        api.get("/users/:username") { req in
            try await self.profile(req)
        }
        api.get("/users/:username/posts") { req in
            let profile = try await self.profile(req)
            let page = try Validation.page(req)
            let perPage = self.pages.settings.pageSize
            let posts = try await Queries.posts(req.db, by: profile.id, page: page, perPage: perPage)
            return PostPage(page: page, perPage: perPage, hasNext: posts.hasNext, posts: posts.posts)
        }
        api.post("/posts") { req in
            let viewer = try req.requireViewer()
            let post = try await Queries.createPost(req.db, by: viewer, body: try req.decodeValid(NewPost.self).body)
            await self.pages.live.announce(post)
            return JSON(post, status: .created)
        }
        api.post("/follow/:username") { req in try await self.follow(req, true) }
        api.post("/unfollow/:username") { req in try await self.follow(req, false) }
        return api
    }

    func profile(_ req: Request) async throws -> Profile {
        let name = req.parameters["username"] ?? ""
        guard let profile = try await Queries.profile(req.db, username: name, viewer: req.viewer?.id) else {
            throw HTTPError(.notFound, "There is no user \(name).")
        }
        return profile
    }

    func follow(_ req: Request, _ following: Bool) async throws -> Profile {
        try await req.setFollowing(following)
        return try await self.profile(req)
    }
}
