import Foundation
import ProcessTestSupport
import Testing

/// What makes the microblog an app people use, over real sockets with curl: flashed messages,
/// log-in required, a new session and CSRF token at log-in, sessions that end at log-out,
/// configuration through app.config, the stylesheet, plurals and times. Every refused input
/// leaves the database as it was.
@Suite struct MicroblogAppTests {
    @Test func flashedMessagesShowOnce() throws {
        let server = try MicroblogServer()
        let ann = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)
        let welcome = try ann.get("/")
        #expect(welcome.body.contains("class=\"flash success\" role=\"status\">Welcome, ann!"), "\(welcome.body)")
        #expect(!(try ann.get("/").body.contains("Welcome, ann!")), "shown once")
        #expect(try ann.write("first").status == 303)
        let posted = try ann.get("/")
        #expect(posted.body.contains(">Your post is up.</p>"))
        #expect(posted.body.contains("1 post ·"), "one post, not 1 posts: \(posted.body)")
        #expect(posted.body.contains("0 followers"))
        #expect(posted.body.contains(">just now</time>"))
        #expect(!(try ann.get("/").body.contains("Your post is up.")))
    }

    @Test func logInIsRequiredAsA401ForJSONAndARedirectForBrowsers() throws {
        let server = try MicroblogServer()
        let visitor = Browser(port: server.port)
        let token = try #require(try visitor.get("/login").csrfToken)
        let browser = try visitor.post("/post", [("body", "hi"), ("csrf_token", token)])
        #expect(browser.status == 303)
        #expect(browser.header("location") == ["/login"])
        let json = try visitor.post("/post", [("body", "hi"), ("csrf_token", token)], headers: ["accept: application/json"])
        #expect(json.status == 401)
        #expect(try json.json()["error"] as? String == "Log in first.")
        #expect(try visitor.get("/api/timeline").status == 401)
        // After logging in, `next` brings the browser back where it was going.
        _ = try Browser(port: server.port).signUp("ann")
        let login = try visitor.submit(
            "/login?next=/u/ann",
            to: "/login",
            [("username", "ANN"), ("password", "correct horse"), ("next", "/u/ann")]
        )
        #expect(login.status == 303)
        #expect(login.header("location") == ["/u/ann"])
        let evil = try visitor.submit(
            "/login",
            to: "/login",
            [("username", "ann"), ("password", "correct horse"), ("next", "//evil.example/")]
        )
        #expect(evil.header("location") == ["/"], "only paths on this site")
        #expect(try visitor.get("/").body.contains("Welcome back, ann."), "logged in as ann, typed in any case")
    }

    @Test func logInRotatesTheSessionAndTheCSRFToken() throws {
        let server = try MicroblogServer()
        _ = try Browser(port: server.port).signUp("ann")
        let ann = Browser(port: server.port)
        let form = try ann.get("/login")
        let tokenBefore = try #require(form.csrfToken)
        let cookieBefore = try #require(form.header("set-cookie").first?.split(separator: ";").first.map(String.init))
        let login = try ann.post("/login", [("username", "ann"), ("password", "correct horse"), ("csrf_token", tokenBefore)])
        #expect(login.status == 303)
        let cookieAfter = try #require(login.header("set-cookie").first?.split(separator: ";").first.map(String.init))
        #expect(cookieAfter != cookieBefore)
        let tokenAfter = try #require(try ann.get("/").csrfToken)
        #expect(tokenAfter != tokenBefore)
        // The token from before the log-in no longer works.
        let stale = try ann.post("/post", [("body", "with the old token"), ("csrf_token", tokenBefore)])
        #expect(stale.status == 400)
        #expect(try ann.get("/api/users/ann").json()["posts"] as? Int == 0, "nothing written")
    }

    @Test func aCookieCopiedBeforeLogOutDoesNotWorkAfter() throws {
        let server = try MicroblogServer()
        let ann = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)
        let thief = Browser(port: server.port)
        try FileManager.default.copyItem(atPath: ann.jar, toPath: thief.jar)
        let stolenToken = try #require(try thief.get("/").csrfToken)
        #expect(try thief.get("/").body.contains("Log out"), "the copy works while ann is logged in")
        #expect(try ann.submit("/", to: "/logout", []).status == 303)
        #expect(try ann.get("/").body.contains("You are logged out."))
        let replay = try thief.get("/")
        #expect(!replay.body.contains("Log out"), "the copied cookie is logged out too")
        #expect(replay.body.contains("<a href=\"/signup\">Sign up</a>"))
        let thiefCopy = Browser(port: server.port)
        try FileManager.default.copyItem(atPath: ann.jar, toPath: thiefCopy.jar)
        // A post with the copied cookie and its token is refused and writes nothing.
        _ = try thief.post("/post", [("body", "as ann"), ("csrf_token", stolenToken)])
        #expect(try ann.get("/api/users/ann").json()["posts"] as? Int == 0)
        // Logging in again works, and the old copies stay out.
        #expect(try ann.submit("/login", to: "/login", [("username", "ann"), ("password", "correct horse")]).status == 303)
        #expect(try ann.get("/").body.contains("Log out"))
        #expect(!(try thief.get("/").body.contains("Log out")))
    }

    @Test func scriptsReadTheAPIWithBasicAuthentication() throws {
        let server = try MicroblogServer()
        let ann = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)
        #expect(try ann.write("hello").status == 303)
        let base = "http://127.0.0.1:\(server.port)"
        let timeline = try curl(["-u", "ann:correct horse", "\(base)/api/timeline"])
        #expect(timeline.contains(#""body":"hello""#), "\(timeline)")
        let wrong = try curl(["-i", "-u", "ann:wrong horse", "\(base)/api/timeline"])
        #expect(wrong.hasPrefix("HTTP/1.1 401"), "\(wrong)")
        #expect(wrong.lowercased().contains(#"www-authenticate: basic realm="microblog", charset="utf-8""#), "\(wrong)")
        #expect(!wrong.lowercased().contains("set-cookie"), "nothing goes in a session")
    }

    @Test func scriptsReadTheAPIWithABearerToken() throws {
        let server = try MicroblogServer()
        let ann = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)
        #expect(try ann.write("hello").status == 303)
        let csrf = try #require(try ann.get("/api/session").json()["csrf_token"] as? String)
        let made = try ann.postJSON("/api/tokens", "{}", headers: ["X-CSRF-Token: \(csrf)"])
        #expect(made.status == 201)
        let token = try #require(try made.json()["token"] as? String)
        #expect(token.count == 43, "32 bytes in base64url: \(token)")
        let base = "http://127.0.0.1:\(server.port)"
        let timeline = try curl(["-H", "Authorization: Bearer \(token)", "\(base)/api/timeline"])
        #expect(timeline.contains(#""body":"hello""#), "\(timeline)")
        let wrong = try curl(["-i", "-H", "Authorization: Bearer \(token.dropLast())x", "\(base)/api/timeline"])
        #expect(wrong.hasPrefix("HTTP/1.1 401"), "\(wrong)")
        #expect(wrong.lowercased().contains(#"www-authenticate: bearer realm="microblog", error="invalid_token""#), "\(wrong)")
        #expect(!wrong.lowercased().contains("set-cookie"), "nothing goes in a session")
        // Only the token's hash is stored.
        server.stop()
        for suffix in ["", "-wal"] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: server.databasePath + suffix))) ?? Data()
            #expect(bytes.range(of: Data(token.utf8)) == nil, "the token itself is not in microblog.sqlite\(suffix)")
        }
    }

    @Test func theSignUpRulesShowBeforeTheyAreBroken() throws {
        let server = try MicroblogServer()
        let page = try Browser(port: server.port).get("/signup")
        #expect(page.body.contains("3 to 20 letters (a-z), digits or _; not case-sensitive"))
        #expect(page.body.contains("at least 8 characters"))
        let css = try Browser(port: server.port).get("/static/style.css")
        #expect(css.status == 200)
        #expect(css.header("content-type").first?.hasPrefix("text/css") == true)
        #expect(css.body.contains("overflow-wrap: anywhere"))
        #expect(page.body.contains("<link rel=\"stylesheet\" href=\"/static/style.css\">"))
    }

    @Test func configurationThroughTheEnvironmentAndAFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("microblog-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("microblog.json").path
        try #"{"page_size": 3, "database_url": "sqlite::memory:", "serve": {"workers": 2, "timeout": 45}}"#.write(
            toFile: file,
            atomically: true,
            encoding: .utf8
        )
        let executable = builtExecutable("microblog").path
        let base = ["PATH": "/usr/bin:/bin", "SECRET_KEY": "s3cret-s3cret-s3cret-s3cret-s3cret!"]

        let printed = try runProcess(
            executable,
            ["serve", "--print-config", "--config", file],
            environment: base.merging(["PAGE_SIZE": "4", "CARAFE_TIMEOUT": "50", "WEB_CONCURRENCY": "3"]) { a, _ in a }
        )
        #expect(printed.status == 0, "\(printed.output)")
        let lines = printed.output.split(separator: "\n").map(String.init)
        func line(_ name: String) -> String { lines.first { $0.hasPrefix(name + " ") } ?? "(none for \(name))" }
        #expect(line("page_size").contains("4") && line("page_size").contains("(environment variable PAGE_SIZE)"), "\(printed.output)")
        #expect(line("database_url").contains("sqlite::memory:") && line("database_url").contains("(config file \(file))"))
        #expect(line("secret_key").contains("********") && !printed.output.contains("s3cret"), "secrets masked")
        #expect(line("--timeout").contains("50") && line("--timeout").contains("CARAFE_TIMEOUT"))
        #expect(
            line("--workers").contains("3") && line("--workers").contains("WEB_CONCURRENCY"),
            "the platform's variable wins over the file"
        )
        #expect(line("--keep-alive").contains("5") && line("--keep-alive").contains("(default)"))

        // Bad values stop the start, naming the value and where it came from.
        let badPage = try runProcess(
            executable,
            ["serve", "--config", file],
            environment: base.merging(["PAGE_SIZE": "ten"]) { a, _ in a }
        )
        #expect(badPage.status == 78)
        #expect(
            badPage.output.contains(
                "Invalid configuration: page_size = 'ten' (from environment variable PAGE_SIZE): expected a whole number"
            ),
            "\(badPage.output)"
        )
        let zero = try runProcess(executable, ["serve", "--config", file], environment: base.merging(["PAGE_SIZE": "0"]) { a, _ in a })
        #expect(zero.status == 78)
        #expect(
            zero.output.contains("page_size = '0' (from environment variable PAGE_SIZE): expected 1 to 100 posts per page"),
            "\(zero.output)"
        )
        let badFlag = try runProcess(
            executable,
            ["serve", "--config", file],
            environment: base.merging(["CARAFE_KEEP_ALIVE": "soon"]) { a, _ in a }
        )
        #expect(badFlag.status == 2)
        #expect(badFlag.output.contains("--keep-alive = 'soon' (from environment variable CARAFE_KEEP_ALIVE)"), "\(badFlag.output)")
        #expect(!badFlag.output.contains("serving on"))

        // And the page size is the one configured.
        let server = try MicroblogServer(environment: ["PAGE_SIZE": "2"])
        let ann = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)
        for n in 1...3 { #expect(try ann.write("post \(n)").status == 303) }
        let timeline = try ann.get("/api/timeline").json()
        #expect(timeline["per_page"] as? Int == 2)
        #expect((timeline["posts"] as? [Any])?.count == 2)
        #expect(timeline["has_next"] as? Bool == true)
    }

    @Test func refusedSignUpsAndPostsWriteNothing() throws {
        let server = try MicroblogServer()
        let ann = Browser(port: server.port)
        #expect(try ann.signUp("ann").status == 303)
        let token = try #require(try ann.get("/api/session").json()["csrf_token"] as? String)
        let apiLong = try ann.postJSON(
            "/api/posts",
            #"{"body": "\#(String(repeating: "y", count: 300))"}"#,
            headers: ["X-CSRF-Token: \(token)", "accept: application/json"]
        )
        #expect(apiLong.status == 422)
        #expect(
            try apiLong.json()["fields"] as? [String: [String]] == ["body": ["A post can have at most 280 characters; this one has 300."]]
        )
        let wrongType = try ann.postJSON("/api/posts", #"{"body": 5}"#, headers: ["X-CSRF-Token: \(token)", "accept: application/json"])
        #expect(wrongType.status == 422)
        #expect(try wrongType.json()["fields"] as? [String: [String]] == ["body": ["must be text"]])
        #expect(try Browser(port: server.port).signUp("Ann").status == 409)
        #expect(try Browser(port: server.port).signUp("x", password: "y").status == 422)
        #expect(try ann.get("/api/users/ann").json()["posts"] as? Int == 0)
        #expect(try ann.get("/api/users/x").status == 404)
        #expect(try ann.get("/api/users/ANN").json()["username"] as? String == "ann", "profiles are found in any case")
        // A long word wraps in the page instead of widening it: it is kept whole in the HTML, and the stylesheet wraps it.
        let word = String(repeating: "w", count: 200)
        #expect(try ann.write(word).status == 303)
        #expect(try ann.get("/").body.contains("<p>\(word)</p>"))
    }
}

/// The microblog in headless Chromium (`Tests/Clients/microblog_browser.py`), phone-sized.
@Suite struct MicroblogBrowserTests {
    struct Shown: Decodable {
        let rulesShown: [String]
        let signupErrors: [String]
        let usernameKept: String
        let flashAfterSignUp: [String]
        let currentUser: String?
        let flashAfterPost: [String]
        let counts: String
        let time: String
        let scrollWidth: Int
        let innerWidth: Int
        let postWidth: Double
        let postError: String
        let postKeptLength: Int
        let flashAfterReload: Int
        let avatarFlash: [String]
        let avatarSize: [Int]
    }

    @Test func formsFlashesAndLongWordsInABrowser() throws {
        let server = try MicroblogServer()
        let printed = try runClientScript("microblog_browser.py", ["http://127.0.0.1:\(server.port)"])
        let shown = try JSONDecoder().decode(Shown.self, from: Data(printed.utf8))
        #expect(shown.rulesShown == ["3 to 20 letters (a-z), digits or _; not case-sensitive", "at least 8 characters"])
        #expect(
            shown.signupErrors == [
                "Username must have 3 to 20 characters; it has 2", "Username may contain only letters (a-z), digits and _, not '!'",
                "Password must have 8 to 200 characters; it has 5",
            ]
        )
        #expect(shown.usernameKept == "a!")
        #expect(shown.flashAfterSignUp == ["Welcome, ann! Find people to follow on their pages."])
        #expect(shown.currentUser == "ann")
        #expect(shown.flashAfterPost == ["Your post is up."])
        #expect(shown.counts == "1 post · following 0 · 0 followers")
        #expect(shown.time == "just now")
        #expect(
            shown.scrollWidth <= shown.innerWidth,
            "a 250-letter word does not widen the page: \(shown.scrollWidth) > \(shown.innerWidth)"
        )
        #expect(shown.postWidth <= Double(shown.innerWidth))
        #expect(shown.postError == "A post can have at most 280 characters; this one has 290.")
        #expect(shown.postKeptLength == 290, "the refused post keeps its text")
        #expect(shown.flashAfterReload == 0, "flashed messages show once")
        #expect(shown.avatarFlash == ["Your picture is up."])
        #expect(shown.avatarSize == [3, 2], "the uploaded PNG, served back and decoded by the browser")
    }
}
