import CarafeTesting
import Foundation
import Synchronization
import Testing

@testable import CarafeCore
@testable import CarafeSessions

/// Log-in: the user loaded once per request, the 401 or redirect for visitors, a new session
/// and CSRF token at log-in, revocation by session version, flashed messages.
@Suite struct LoginTests {
    struct User: SessionUser {
        let id: Int
        let name: String
        let version: Int
        var sessionID: String { String(self.id) }
        var sessionVersion: String { String(self.version) }
    }

    /// The users, their versions, and how often the loader ran.
    final class Users: Sendable {
        let versions = Mutex([1: 0, 2: 0])
        let loads = Mutex(0)
        func load(_ id: String) -> User? {
            self.loads.withLock { $0 += 1 }
            guard let id = Int(id), let version = self.versions.withLock({ $0[id] }) else { return nil }
            return User(id: id, name: "user\(id)", version: version)
        }
    }

    static func app(_ users: Users) throws -> App {
        let app = App()
        try app.sessions(secretKey: secretKey)
        app.login(User.self, loginPage: "/login") { _, id in users.load(id) }
        app.get("/token") { req in req.csrfToken }
        app.post("/login/:id") { req in
            guard let user = users.load(req.parameters["id"] ?? "") else { throw HTTPError(.unauthorized) }
            req.logIn(user)
            req.flash("Welcome, \(user.name)!", category: "success")
            return "in"
        }
        app.post("/logout") { req in
            if let user = req.user(User.self) { users.versions.withLock { $0[user.id]! += 1 } }
            req.logOut()
            return "out"
        }
        app.get("/me") { req in
            let user = try req.requireUser(User.self)
            let again = req.user(User.self)
            return "\(user.name) \(again?.id == user.id)"
        }
        app.get("/flashes") { req in
            req.flashedMessages().map { "\($0.category): \($0.message)" }.joined(separator: "\n")
        }
        let private_ = Blueprint("private", prefix: "/private").requireLogin()
        private_.get("/page") { _ in "secret" }
        app.register(private_)
        return app
    }

    @Test func visitorsGetA401AsJSONClientsAndARedirectAsBrowsers() async throws {
        let app = try Self.app(Users())
        let json = await app.test.get("/me", headers: ["accept": "application/json"])
        #expect(json.status == .unauthorized)
        #expect(json.text.contains("Log in first."))
        let browser = await app.test.get("/me?tab=1", headers: ["accept": "text/html,application/xhtml+xml,*/*;q=0.8"])
        #expect(browser.status == .seeOther)
        #expect(browser.header("location") == "/login?next=/me%3Ftab%3D1")
        let blueprint = await app.test.get("/private/page", headers: ["accept": "text/html"])
        #expect(blueprint.status == .seeOther)
        #expect(blueprint.header("location") == "/login?next=/private/page")
    }

    @Test func logInRotatesTheSessionAndTheCSRFToken() async throws {
        let users = Users()
        let app = try Self.app(users)
        let client = app.test.keepingCookies()
        let before = await client.get("/token")
        let cookieBefore = try #require(before.cookieValue())
        let login = await client.post("/login/1", form: ["csrf_token": before.text])
        #expect(login.status == .ok)
        let cookieAfter = try #require(login.cookieValue())
        #expect(cookieAfter != cookieBefore)
        let after = await client.get("/token")
        #expect(after.text != before.text)
        #expect(after.text.count == 43)
        users.loads.withLock { $0 = 0 }
        #expect(await client.get("/me").text == "user1 true")
        #expect(users.loads.withLock { $0 } == 1)  // once per request, however often the handler asks
        #expect(await client.get("/private/page").text == "secret")
    }

    @Test func aReplayedCookieStopsWorkingOnceTheVersionChanges() async throws {
        let users = Users()
        let app = try Self.app(users)
        let login = await app.test.post("/login/2")
        let cookie = try #require(login.cookieValue())
        #expect(await app.test.get("/me", headers: sessionCookie(cookie)).text == "user2 true")
        let logout = await app.test.post("/logout", headers: sessionCookie(cookie))
        #expect(logout.text == "out")
        #expect(logout.setCookie("session")?.contains("Max-Age=0") == true)
        // The old cookie, sent again as an attacker who copied it would:
        let replay = await app.test.get("/me", headers: sessionCookie(cookie).merging(["accept": "application/json"]))
        #expect(replay.status == .unauthorized)
        #expect(replay.setCookie("session")?.contains("Max-Age=0") == true)  // and told to forget it
        // A user who is gone is logged out too.
        let other = try #require(await app.test.post("/login/1").cookieValue())
        users.versions.withLock { _ = $0.removeValue(forKey: 1) }
        #expect(await app.test.get("/me", headers: sessionCookie(other).merging(["accept": "application/json"])).status == .unauthorized)
    }

    @Test func flashedMessagesAreShownOnce() async throws {
        let app = try Self.app(Users())
        let client = app.test.keepingCookies()
        _ = await client.post("/login/1")
        #expect(await client.get("/flashes").text == "success: Welcome, user1!")
        #expect(await client.get("/flashes").text == "")
    }

    @Test func basicAndBearerCredentialsLoadAUserForOneRequest() async throws {
        let users = Users()
        let app = App()
        try app.sessions(secretKey: secretKey)
        app.login(
            User.self,
            loader: { _, id in users.load(id) },
            requestLoader: { req in
                if let basic = req.basicCredentials, basic.username == "user1", basic.password == "pa:ss wörd" { return users.load("1") }
                if let token = req.bearerToken, ConstantTime.equals(Array(token.utf8), Array("tok.en-2~+/==".utf8)) {
                    return users.load("2")
                }
                return nil
            }
        )
        app.get("/me") { req in
            guard let user = req.user(User.self) else {
                if req.headers.contains(name: "authorization"), req.bearerToken != nil {
                    throw HTTPError.bearerTokenRequired(realm: "api", invalidToken: true)
                }
                throw HTTPError.basicAuthenticationRequired(realm: "my \"app\"")
            }
            return user.name
        }
        let basic = "Basic " + Data("user1:pa:ss wörd".utf8).base64EncodedString()
        let ok = await app.test.get("/me", headers: ["authorization": basic])
        #expect(ok.text == "user1")
        #expect(ok.setCookie("session") == nil, "nothing is kept in a session")
        #expect(await app.test.get("/me", headers: ["authorization": "bearer tok.en-2~+/=="]).text == "user2")
        let wrong = await app.test.get("/me", headers: ["authorization": "Basic " + Data("user1:nope".utf8).base64EncodedString()])
        #expect(wrong.status == .unauthorized)
        #expect(wrong.header("www-authenticate") == #"Basic realm="my \"app\"", charset="UTF-8""#)
        let badToken = await app.test.get("/me", headers: ["authorization": "Bearer other"])
        #expect(badToken.header("www-authenticate") == #"Bearer realm="api", error="invalid_token""#)
        // Malformed headers are no credentials.
        let request = { (value: String) in await app.test.get("/me", headers: ["authorization": value]).status }
        #expect(await request("Basic not-base64!") == .unauthorized)
        #expect(await request("Basic " + Data("no colon".utf8).base64EncodedString()) == .unauthorized)
        #expect(await request("Bearer has space") == .unauthorized)
        #expect(await request("Bearer") == .unauthorized)
    }

    @Test func nextPageIsOnlyALocalPath() async throws {
        let app = App()
        app.get("/next") { req in req.nextPage ?? "-" }
        #expect(await app.test.get("/next?next=/u/ann").text == "/u/ann")
        #expect(await app.test.get("/next?next=//evil.example/").text == "-")
        #expect(await app.test.get("/next?next=https://evil.example/").text == "-")
        #expect(await app.test.get("/next?next=/%5Cevil.example").text == "-")
    }
}

extension HTTPHeaders {
    func merging(_ other: HTTPHeaders) -> HTTPHeaders {
        var merged = self
        for (name, value) in other { merged.add(name: name, value: value) }
        return merged
    }
}
