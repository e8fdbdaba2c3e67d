import Foundation
import ProcessTestSupport
import Testing

/// The `accounts` example over real sockets, with curl as the browser (a cookie jar file,
/// forms posted as a browser posts them): sign-up, sessions, CSRF, log-in, escaping.
@Suite struct AccountsTests {
    static func start(_ arguments: [String] = []) throws -> ServerProcess {
        try ServerProcess(
            builtExecutable("accounts"),
            ["serve", "--bind", "127.0.0.1:0", "--log-level", "info"] + arguments,
            environment: [
                "SECRET_KEY": String(repeating: "s", count: 64), "PATH": "/usr/bin:/bin", "PASSWORD_HASH_METHOD": "scrypt:32768:8:1",
            ]
        )
    }

    @Test func signUpPostANoteLogOutAndLogInAgain() throws {
        let server = try Self.start()
        let browser = Browser(port: server.port)

        let signupForm = try browser.get("/signup")
        #expect(signupForm.status == 200)
        let token = try #require(signupForm.csrfToken, "\(signupForm.body)")
        let setCookie = try #require(signupForm.header("set-cookie").first)
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax") && setCookie.contains("Path=/"), "\(setCookie)")

        let signup = try browser.post("/signup", [("name", "ann"), ("password", "correct horse"), ("csrf_token", token)])
        #expect(signup.status == 303)
        #expect(signup.header("location") == ["/"])
        #expect(try browser.get("/").body.contains("<h1>Hello, ann</h1>"))

        // A form without the token never reaches the handler.
        let forged = try browser.post("/notes", [("text", "forged")])
        #expect(forged.status == 400)
        #expect(forged.body.contains("CSRF token missing or incorrect"))

        #expect(try browser.post("/notes", [("text", "<script>alert(1)</script>"), ("csrf_token", token)]).status == 303)
        let home = try browser.get("/")
        #expect(home.body.contains("<li class=\"note\">ann: &lt;script&gt;alert(1)&lt;/script&gt;</li>"), "\(home.body)")
        #expect(!home.body.contains("forged"))

        #expect(try browser.post("/logout", [("csrf_token", token)]).status == 303)
        let loggedOut = try browser.get("/")
        #expect(!loggedOut.body.contains("Hello, ann"))
        #expect(loggedOut.body.contains("<a href=\"/login\">Log in</a>"))

        let loginForm = try browser.get("/login")
        let newToken = try #require(loginForm.csrfToken)
        #expect(newToken != token, "logging out cleared the session, and its token with it")
        let wrong = try browser.post("/login", [("name", "ann"), ("password", "wrong horse"), ("csrf_token", newToken)])
        #expect(wrong.status == 401)
        #expect(wrong.body.contains("Wrong name or password."))
        let nobody = try browser.post("/login", [("name", "nobody"), ("password", "no such user"), ("csrf_token", newToken)])
        #expect(nobody.status == 401, "the dummy hash's password logs nobody in")
        #expect(try browser.post("/login", [("name", "ann"), ("password", "correct horse"), ("csrf_token", newToken)]).status == 303)
        #expect(try browser.get("/").body.contains("<h1>Hello, ann</h1>"))

        // Another browser has neither the session nor its token.
        let stranger = Browser(port: server.port)
        let strangerPost = try stranger.post("/notes", [("text", "hi"), ("csrf_token", newToken)])
        #expect(strangerPost.status == 400)
    }

    /// Password hashing runs on a thread pool: with a single event loop, a request that arrives
    /// while a log-in is hashing is answered before that log-in ends. (If the hash ran on the
    /// loop, the second request would wait for it, and the log-in would end first.)
    @Test func aLogInThatIsHashingDoesNotHoldUpOtherRequests() throws {
        let server = try Self.start(["--event-loops", "1"])
        let browser = Browser(port: server.port)
        let token = try #require(try browser.get("/signup").csrfToken)
        #expect(try browser.post("/signup", [("name", "bob"), ("password", "long enough"), ("csrf_token", token)]).status == 303)

        let login = Process()
        login.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        login.arguments = [
            "-s", "--max-time", "30", "-b", browser.jar, "--data-urlencode", "name=bob", "--data-urlencode", "password=long enough",
            "--data-urlencode", "csrf_token=\(token)", "http://127.0.0.1:\(server.port)/login",
        ]
        login.standardOutput = FileHandle.nullDevice
        try login.run()
        defer { if login.isRunning { kill(login.processIdentifier, SIGKILL) } }
        #expect(server.waitForOutput("login attempt for bob", timeout: 10))
        #expect(try browser.get("/ping").body == "pong")
        #expect(login.isRunning, "the log-in ended before /ping was answered: did hashing block the event loop?")
        login.waitUntilExit()
        #expect(login.terminationStatus == 0)
    }
}
