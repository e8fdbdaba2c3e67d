import Foundation
import ProcessTestSupport
import Testing

/// The `microblog` example on SQLite, over real sockets, with curl and cookie jars as the
/// browsers: sign-up, log-in, posts, follows, the timeline and its pages, the JSON API, CSRF,
/// bad input, and the live timeline.
@Suite struct MicroblogTests {
    @Test func signUpPostFollowAndReadTheTimeline() throws {
        let server = try MicroblogServer()
        #expect(server.process.output.contains("applied migration 002_follows"), "\(server.process.output)")
        let ann = Browser(port: server.port)
        let bob = Browser(port: server.port)

        let signupForm = try ann.get("/signup")
        let cookie = try #require(signupForm.header("set-cookie").first)
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "\(cookie)")
        #expect(try ann.signUp("ann").status == 303)
        #expect(try bob.signUp("bob").status == 303)

        #expect(try bob.write("hello from <b>bob</b>").status == 303)
        #expect(try ann.write("ann's first post").status == 303)

        let before = try ann.get("/")
        #expect(before.body.contains("ann&#39;s first post") || before.body.contains("ann&#x27;s first post"), "\(before.body)")
        #expect(!before.body.contains("hello from"), "ann follows nobody yet")

        // bob's page has a Follow button for ann, and following puts bob's posts on her timeline.
        let bobsPage = try ann.get("/u/bob")
        #expect(bobsPage.status == 200)
        #expect(bobsPage.body.contains("action=\"/follow/bob\""))
        #expect(bobsPage.body.contains("hello from &lt;b&gt;bob&lt;/b&gt;"), "escaped: \(bobsPage.body)")
        #expect(try ann.post("/follow/bob", [("csrf_token", try #require(bobsPage.csrfToken))]).status == 303)
        let after = try ann.get("/")
        let bobsPost = try #require(after.body.range(of: "hello from &lt;b&gt;bob&lt;/b&gt;"), "\(after.body)")
        let annsPost = try #require(after.body.range(of: "first post"))
        #expect(annsPost.lowerBound < bobsPost.lowerBound, "newest first")
        #expect(after.body.contains("following 1"))
        #expect(try ann.get("/u/bob").body.contains("action=\"/unfollow/bob\""))
        #expect(try bob.get("/u/bob").body.contains("1 follower ·"))

        // Unfollowing takes bob's posts off the timeline again.
        #expect(try ann.submit("/u/bob", to: "/unfollow/bob", []).status == 303)
        #expect(!(try ann.get("/").body.contains("hello from")))

        // Log out and in again; a wrong password is refused.
        #expect(try ann.submit("/", to: "/logout", []).status == 303)
        #expect(try ann.get("/").body.contains("<a href=\"/signup\">Sign up</a>"))
        let wrong = try ann.submit("/login", to: "/login", [("username", "ann"), ("password", "wrong horse")])
        #expect(wrong.status == 401)
        #expect(wrong.body.contains("Wrong username or password."))
        #expect(try ann.submit("/login", to: "/login", [("username", "ann"), ("password", "correct horse")]).status == 303)
        #expect(try ann.get("/").body.contains("ann&#39;s first post") || ann.get("/").body.contains("ann&#x27;s first post"))
        #expect(try ann.get("/u/nobody").status == 404)
    }

    @Test func formsWithoutTheCSRFTokenAreRefusedAndWriteNothing() throws {
        let server = try MicroblogServer()
        let ann = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)
        _ = try Browser(port: server.port).signUp("bob")

        let forged = try ann.post("/post", [("body", "forged")])
        #expect(forged.status == 400)
        #expect(forged.body.contains("CSRF token missing or incorrect"))
        let wrongToken = try ann.post("/follow/bob", [("csrf_token", "not-the-token")])
        #expect(wrongToken.status == 400)
        // Another browser's token does not work with this session either.
        let stranger = Browser(port: server.port)
        let strangerToken = try #require(try stranger.get("/login").csrfToken)
        #expect(try ann.post("/post", [("body", "forged"), ("csrf_token", strangerToken)]).status == 400)
        // The API needs the header.
        let api = try ann.postJSON("/api/posts", #"{"body": "forged"}"#)
        #expect(api.status == 400)
        #expect(
            try api.json()["error"] as? String ?? ""
                == "CSRF token missing or incorrect: the request has no csrf_token form field and no X-CSRF-Token header."
        )

        let profile = try ann.get("/api/users/ann").json()
        #expect(profile["posts"] as? Int == 0)
        #expect((profile["created_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) } != nil, "\(profile)")
        #expect(profile["following"] as? Int == 0)
    }

    @Test func badInputGetsAClearErrorAndWritesNothing() throws {
        let server = try MicroblogServer()
        let ann = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)

        let empty = try ann.write("   ")
        #expect(empty.status == 422)
        #expect(empty.body.contains("A post cannot be empty."))
        let long = try ann.write(String(repeating: "x", count: 281))
        #expect(long.status == 422)
        #expect(long.body.contains("at most 280 characters; this one has 281"))
        #expect(long.body.contains(">\(String(repeating: "x", count: 281))</textarea>"), "the refused post keeps the typed text")
        #expect(try ann.write(String(repeating: "é", count: 280)).status == 303, "280 characters are allowed, whatever their bytes")

        let visitor = Browser(port: server.port)
        let badName = try visitor.signUp("no spaces!", password: "short")
        #expect(badName.status == 422)
        // Every field's errors at once, and the name as typed.
        #expect(
            badName.body.contains("Username may contain only letters (a-z), digits and _, not &#39; &#39;")
                || badName.body.contains("Username may contain only letters (a-z), digits and _, not &#x27; &#x27;"),
            "\(badName.body)"
        )
        #expect(badName.body.contains("Password must have 8 to 200 characters; it has 5"))
        #expect(badName.body.contains("value=\"no spaces!\""))
        let shortPassword = try visitor.signUp("carol", password: "short")
        #expect(shortPassword.status == 422)
        #expect(shortPassword.body.contains("must have 8 to 200 characters"))
        let taken = try visitor.signUp("ann", password: "another horse")
        #expect(taken.status == 409)
        #expect(taken.body.contains("ann is taken"))
        let otherCase = try visitor.signUp("ANN", password: "another horse")
        #expect(otherCase.status == 409, "ann and ANN are one name")
        #expect(otherCase.body.contains("ANN is taken (names are the same in any case)"))
        #expect(try visitor.get("/page-that-is-not").status == 404)

        // Nothing was written: one post, and neither carol nor a second ann.
        #expect(try ann.get("/api/users/ann").json()["posts"] as? Int == 1)
        #expect(try ann.get("/api/users/carol").status == 404)
        #expect(try visitor.submit("/login", to: "/login", [("username", "ann"), ("password", "another horse")]).status == 401)

        // The API answers the same checks in JSON.
        let token = try #require(try ann.get("/api/session").json()["csrf_token"] as? String)
        let apiEmpty = try ann.postJSON("/api/posts", #"{"body": ""}"#, headers: ["X-CSRF-Token: \(token)", "accept: application/json"])
        #expect(apiEmpty.status == 422)
        #expect(try apiEmpty.json()["error"] as? String == "body: A post cannot be empty.")
        #expect(try apiEmpty.json()["fields"] as? [String: [String]] == ["body": ["A post cannot be empty."]])
        let notJSON = try ann.postJSON("/api/posts", "{not json", headers: ["X-CSRF-Token: \(token)"])
        #expect(notJSON.status == 400)
        #expect(try ann.get("/api/timeline?page=0").status == 400)
        #expect(
            try ann.get("/api/timeline?page=abc").json()["error"] as? String == "page must be a whole number from 1 to 10000, not 'abc'."
        )
        #expect(try ann.get("/api/users/ann").json()["posts"] as? Int == 1)
    }

    @Test func theJSONAPIAndPagination() throws {
        let server = try MicroblogServer()
        _ = try Browser(port: server.port).signUp("bob")
        let ann = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)

        // bob, through the API: log in, then post 45 times.
        let bob = Browser(port: server.port)
        let session = try bob.get("/api/session").json()
        #expect(session["username"] == nil, "no one is logged in")
        let visitorToken = try #require(session["csrf_token"] as? String)
        let login = try bob.postJSON(
            "/api/login",
            #"{"username": "bob", "password": "correct horse"}"#,
            headers: ["X-CSRF-Token: \(visitorToken)"]
        )
        #expect(login.status == 200)
        #expect(try login.json()["username"] as? String == "bob")
        // Logging in rotated the token: the response carries the new one, as /api/session does.
        let token = try #require(login.header("x-csrf-token").first)
        #expect(token != visitorToken)
        #expect(try bob.get("/api/session").json()["csrf_token"] as? String == token)
        #expect(try bob.postJSON("/api/posts", #"{"body": "stale"}"#, headers: ["X-CSRF-Token: \(visitorToken)"]).status == 400)
        for n in 1...45 {
            let posted = try bob.postJSON("/api/posts", #"{"body": "post \#(n)"}"#, headers: ["X-CSRF-Token: \(token)"])
            #expect(posted.status == 201)
            if n == 45 { #expect(try posted.json()["body"] as? String == "post 45") }
        }
        #expect(try bob.postJSON("/api/posts", #"{"body": "x"}"#, headers: ["X-CSRF-Token: \(token)"]).status == 201)

        let annToken = try #require(try ann.get("/api/session").json()["csrf_token"] as? String)
        let followed = try ann.postJSON("/api/follow/bob", "{}", headers: ["X-CSRF-Token: \(annToken)"]).json()
        #expect(followed["followed_by_viewer"] as? Bool == true)
        #expect(followed["posts"] as? Int == 46)

        let first = try ann.get("/api/timeline").json()
        let firstPosts = try #require(first["posts"] as? [[String: Any]])
        #expect(firstPosts.count == 20)
        #expect(first["has_next"] as? Bool == true)
        #expect(firstPosts.first?["body"] as? String == "x")
        #expect(firstPosts.first?["username"] as? String == "bob")
        let last = try ann.get("/api/timeline?page=3").json()
        let lastPosts = try #require(last["posts"] as? [[String: Any]])
        #expect(lastPosts.map { $0["body"] as? String } == (1...6).reversed().map { "post \($0)" })
        #expect(last["has_next"] as? Bool == false)
        let ids = Set(
            try (1...3).flatMap { page in
                try #require(try ann.get("/api/timeline?page=\(page)").json()["posts"] as? [[String: Any]]).compactMap { $0["id"] as? Int }
            }
        )
        #expect(ids.count == 46, "every post once over the three pages")

        let page2 = try ann.get("/?page=2")
        #expect(page2.body.contains("href=\"?page=1\">Newer"))
        #expect(page2.body.contains("href=\"?page=3\">Older"))
        #expect(page2.body.components(separatedBy: "class=\"post\"").count - 1 == 20)
        #expect(try bob.get("/api/users/bob/posts?page=3").json()["posts"].map { ($0 as? [Any])?.count } == 6)
        #expect(try Browser(port: server.port).get("/api/timeline").status == 401)

        let unfollowed = try ann.postJSON("/api/unfollow/bob", "{}", headers: ["X-CSRF-Token: \(annToken)"]).json()
        #expect(unfollowed["followed_by_viewer"] as? Bool == false)
        #expect((try ann.get("/api/timeline").json()["posts"] as? [Any])?.count == 0)
    }

    @Test func theLiveTimelineSendsNewPostsOfFollowedUsers() throws {
        let server = try MicroblogServer()
        let ann = Browser(port: server.port)
        let bob = Browser(port: server.port)
        let carol = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)
        #expect(try bob.signUp("bob").status == 303)
        #expect(try carol.signUp("carol").status == 303)
        #expect(try ann.submit("/u/bob", to: "/follow/bob", []).status == 303)
        #expect(try Browser(port: server.port).get("/live").status == 401, "a visitor has no live timeline")

        let live = try EventStreamReader("http://127.0.0.1:\(server.port)/live", cookies: ann.jar)
        #expect(live.waitFor(": live"), "\(live.output.text)")
        #expect(try carol.write("carol, whom ann does not follow").status == 303)
        #expect(try bob.write("bob's live post").status == 303)
        #expect(live.waitFor("bob's live post"), "\(live.output.text)")
        #expect(live.output.text.contains("event: post\ndata: {"))
        #expect(!live.output.text.contains("carol"), "published before bob's post, so it would have come first")
        #expect(try ann.get("/").body.contains("new EventSource(\"/live\")"))
    }

    @Test func withoutASecretKeyOneIsKeptBesideTheDatabaseAndSessionsSurviveARestart() throws {
        let server = try MicroblogServer(secretKey: nil)
        #expect(server.process.output.contains("SECRET_KEY is not set: made a new key"))
        let keyFile = server.directory.appendingPathComponent("microblog.secret-key").path
        let attributes = try FileManager.default.attributesOfItem(atPath: keyFile)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let ann = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)
        server.stop()
        try server.start(secretKey: nil)
        let again = Browser(port: server.port)
        try FileManager.default.copyItem(atPath: ann.jar, toPath: again.jar)
        #expect(try again.get("/").body.contains("following 0"), "the session cookie from before the restart still logs ann in")
    }
}
