import CarafeTesting
import Foundation
import Testing

@testable import CarafeCore
@testable import CarafeSessions

/// Signed-cookie sessions through the test client: what the browser gets, what it can't forge.
@Suite struct SessionTests {
    /// An app whose `/login?user=` stores the user in the session, `/whoami` reads it,
    /// `/logout` clears it.
    static func app(configure: (App) throws -> Void = { try $0.sessions(secretKey: secretKey) }) throws -> App {
        let app = App()
        try configure(app)
        app.get("/login") { req in
            req.session["user_id"] = try req.query.require("user")
            return "logged in"
        }
        app.get("/whoami") { req in req.session["user_id"] ?? "anonymous" }
        app.get("/logout") { req in
            req.session.clear()
            return "bye"
        }
        app.get("/plain") { _ in "no session used" }
        return app
    }

    @Test func theSessionComesBackWithTheCookie() async throws {
        let app = try Self.app()
        let login = await app.test.get("/login?user=42")
        let cookie = try #require(login.cookieValue())
        #expect(await app.test.get("/whoami", headers: sessionCookie(cookie)).text == "42")
        #expect(await app.test.get("/whoami").text == "anonymous")
    }

    @Test func theCookieIsHttpOnlySameSiteLaxPathRootWithMaxAge() async throws {
        let setCookie = try #require(try await Self.app().test.get("/login?user=1").setCookie("session"))
        let attributes = Set(setCookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(attributes == ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2678400"], "\(setCookie)")
    }

    @Test func secureSameSiteStrictDomainAndNameAreConfigurable() async throws {
        let app = try Self.app {
            try $0.sessions(
                secretKey: secretKey,
                cookieName: "sid",
                maxAge: .seconds(600),
                secure: true,
                sameSite: .strict,
                domain: "example.com"
            )
        }
        let setCookie = try #require(await app.test.get("/login?user=1").setCookie("sid"))
        let attributes = Set(setCookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(attributes == ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=600", "Secure", "Domain=example.com"], "\(setCookie)")
    }

    @Test func aCookieIsSentOnlyWhenTheSessionChanged() async throws {
        let app = try Self.app()
        let cookie = try #require(await app.test.get("/login?user=7").cookieValue())
        let read = await app.test.get("/whoami", headers: sessionCookie(cookie))
        #expect(read.text == "7")
        #expect(read.headers["set-cookie"].isEmpty)
        #expect(read.header("vary") == "Cookie")
        let untouched = await app.test.get("/plain", headers: sessionCookie(cookie))
        #expect(untouched.headers["set-cookie"].isEmpty)
        #expect(untouched.header("vary") == nil)
    }

    @Test func clearingTheSessionDeletesTheCookie() async throws {
        let app = try Self.app()
        let cookie = try #require(await app.test.get("/login?user=7").cookieValue())
        let logout = await app.test.get("/logout", headers: sessionCookie(cookie))
        let setCookie = try #require(logout.setCookie("session"))
        #expect(setCookie.hasPrefix("session=;"))
        #expect(setCookie.contains("Max-Age=0"))
        // Without a cookie, clearing has nothing to delete.
        #expect(await app.test.get("/logout").headers["set-cookie"].isEmpty)
    }

    @Test func aTamperedCookieIsAnEmptySessionNotAnError() async throws {
        let app = try Self.app()
        let cookie = try #require(await app.test.get("/login?user=42").cookieValue())
        let parts = cookie.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        // The same signature over other values: the client changed who it is.
        let forgedPayload = Base64URL.encode(Array(#"{"user_id":"1"}"#.utf8))
        // A signature with one character changed: the first, as the last one's low bits are only
        // base64 padding, which a decoder may ignore.
        let firstCharacter = parts[2].first == "A" ? "B" : "A"
        let badSignature = firstCharacter + parts[2].dropFirst()
        let forgeries = [
            "\(forgedPayload).\(parts[1]).\(parts[2])",
            "\(parts[0]).\(Int(parts[1])! + 100).\(parts[2])",
            "\(parts[0]).\(parts[1]).\(badSignature)",
            "\(parts[0]).\(parts[1])",
            "garbage",
            "a.b.c.d",
            "",
        ]
        for forged in forgeries {
            let response = await app.test.get("/whoami", headers: sessionCookie(forged))
            #expect(response.status == .ok, "\(forged)")
            #expect(response.text == "anonymous", "\(forged)")
        }
        #expect(await app.test.get("/whoami", headers: sessionCookie(cookie)).text == "42")
    }

    @Test func aCookieSignedWithAnotherKeyIsRefused() async throws {
        let other = try Self.app { try $0.sessions(secretKey: String(repeating: "k", count: 32)) }
        let cookie = try #require(await other.test.get("/login?user=42").cookieValue())
        #expect(try await Self.app().test.get("/whoami", headers: sessionCookie(cookie)).text == "anonymous")
    }

    @Test func aSessionOlderThanMaxAgeIsEmpty() async throws {
        let clock = ManualClock()
        let app = try Self.app { app in
            app.sessions(
                SessionSettings(
                    signer: try SessionSigner(secretKey: secretKey),
                    cookieName: "session",
                    maxAgeSeconds: 3600,
                    secure: false,
                    sameSite: .lax,
                    domain: nil,
                    now: { clock.now }
                )
            )
        }
        let cookie = try #require(await app.test.get("/login?user=5").cookieValue())
        clock.advance(seconds: 3600)
        #expect(await app.test.get("/whoami", headers: sessionCookie(cookie)).text == "5")
        clock.advance(seconds: 1)
        #expect(await app.test.get("/whoami", headers: sessionCookie(cookie)).text == "anonymous")
        // Signed too far in the future (the clock went back): refused too.
        let future = try #require(await app.test.get("/login?user=6").cookieValue())
        clock.advance(seconds: -(SessionSigner.allowedClockSkew + 1))
        #expect(await app.test.get("/whoami", headers: sessionCookie(future)).text == "anonymous")
    }

    @Test func oldSecretKeysStillWorkAndTheSessionIsSignedAgainWithTheNewOne() async throws {
        let oldKey = String(repeating: "o", count: 40)
        let before = try Self.app { try $0.sessions(secretKey: oldKey) }
        let oldCookie = try #require(await before.test.get("/login?user=9").cookieValue())

        let rotated = try Self.app { try $0.sessions(secretKey: secretKey, oldSecretKeys: [oldKey]) }
        let response = await rotated.test.get("/whoami", headers: sessionCookie(oldCookie))
        #expect(response.text == "9")
        let newCookie = try #require(response.cookieValue(), "a session signed with an old key is signed again")
        // The new cookie is signed with the new key alone.
        #expect(try await Self.app().test.get("/whoami", headers: sessionCookie(newCookie)).text == "9")
        // Without the old key listed, the old cookie is nobody's.
        #expect(try await Self.app().test.get("/whoami", headers: sessionCookie(oldCookie)).text == "anonymous")
    }

    @Test func aSecretKeyShorterThan32BytesIsRefused() throws {
        let error = #expect(throws: SecretKeyTooShort.self) { try App().sessions(secretKey: "dev") }
        #expect(error?.length == 3)
        #expect(error?.description.contains("at least 32 bytes") == true)
        #expect(throws: SecretKeyTooShort.self) { try App().sessions(secretKey: secretKey, oldSecretKeys: ["short"]) }
        try App().sessions(secretKey: String(repeating: "x", count: 32))
    }

    @Test func codableValuesAndOtherCookiesSurvive() async throws {
        struct Cart: Codable, Equatable {
            var items: [String]
            var total: Int
        }
        let app = App()
        try app.sessions(secretKey: secretKey)
        app.get("/add") { req in
            var cart = req.session["cart", as: Cart.self] ?? Cart(items: [], total: 0)
            cart.items.append(try req.query.require("item"))
            cart.total += 1
            req.session["cart", as: Cart.self] = cart
            return "\(cart.total)"
        }
        let first = await app.test.get("/add?item=tea")
        let cookie = try #require(first.cookieValue())
        let second = await app.test.get("/add?item=caf%C3%A9%20%3B%22", headers: ["cookie": "theme=dark; session=\(cookie); other=1"])
        #expect(second.text == "2")
        let secondCookie = try #require(second.cookieValue())
        let third = await app.test.get("/add?item=x", headers: sessionCookie(secondCookie))
        #expect(third.text == "3")
        let thirdCookie = try #require(third.cookieValue())
        let signer = try SessionSigner(secretKey: secretKey)
        let values = try #require(signer.verify(thirdCookie, maxAge: 60, now: Date())).values
        let cart = try JSONDecoder().decode(Cart.self, from: Data(try #require(values["cart"]).utf8))
        #expect(cart == Cart(items: ["tea", "café ;\"", "x"], total: 3))
    }

    @Test func withoutSessionsTheSessionIsEmptyAndNotSavedAndAnEarlyErrorStillSeesTheUsersSession() async throws {
        let bare = App()
        bare.get("/set") { req in
            req.session["a"] = "1"
            return req.session["a"] ?? "none"
        }
        let response = await bare.test.get("/set")
        #expect(response.text == "1", "within its request the session keeps what was set")
        #expect(response.headers["set-cookie"].isEmpty)

        // A 413 is raised before any hook runs; its error handler still reads the user's session
        // (it is read from the cookie on first use, whatever ran before).
        let app = try Self.app()
        app.maxBodySize = 4
        app.post("/upload") { _ in "stored" }
        app.errorHandler(.payloadTooLarge) { req, _ in "too large for \(req.session["user_id"] ?? "anonymous")" }
        let cookie = try #require(await app.test.get("/login?user=3").cookieValue())
        let big = await app.test.post("/upload", "0123456789", headers: sessionCookie(cookie))
        #expect(big.status == .payloadTooLarge)
        #expect(big.text == "too large for 3")
        #expect(big.headers["set-cookie"].isEmpty, "an unchanged session sends no cookie")
    }

    @Test func theTestClientCanKeepCookiesLikeABrowser() async throws {
        let app = try Self.app()
        let client = app.test.keepingCookies()
        #expect(await client.get("/whoami").text == "anonymous")
        _ = await client.get("/login?user=11")
        #expect(client.cookies?["session"] != nil)
        #expect(await client.get("/whoami").text == "11")
        #expect(await app.test.get("/whoami").text == "anonymous", "the default client keeps no cookies")
        _ = await client.get("/logout")
        #expect(client.cookies?["session"] == nil, "Max-Age=0 deleted it")
        #expect(await client.get("/whoami").text == "anonymous")
    }
}
