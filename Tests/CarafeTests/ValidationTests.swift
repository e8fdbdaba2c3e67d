import CarafeTesting
import Foundation
import Testing

@testable import CarafeCore

/// Validation: every failing field in one 422, JSON by field; decoding errors as field errors;
/// app-wide JSON settings.
@Suite struct ValidationTests {
    struct SignUp: Content, Validatable {
        var username = ""
        var password = ""
        var email: String?
        var age = 0

        static func validations(_ v: inout Validations<Self>) {
            v.add("username", \.username, .count(3...20), .characters(.alphanumerics, "letters and digits"))
            v.add("password", \.password, .count(8...))
            v.add("email", \.email, ifPresent: .email)
            v.add("age", \.age, .range(13...130))
            v.add("password", message: { $0.password == $0.username ? "must not be the username" : nil })
        }
    }

    struct ErrorBody: Decodable {
        let error: String
        let status: UInt
        let fields: [String: [String]]?
    }

    static func app() -> App {
        let app = App()
        app.post("/signup") { req in try req.decodeValid(SignUp.self) }
        return app
    }

    @Test func everyFailingFieldIsInOne422() async throws {
        let app = Self.app()
        let response = try await app.test.post(
            "/signup",
            json: ["username": "a!", "password": "a!", "email": "nope", "age": "5"].mapValues { $0 } as [String: String],
            headers: ["accept": "application/json"]
        )
        // age is a string here: decoding stops at it, and says so for that field.
        #expect(response.status == .unprocessableEntity)
        let typed = try response.json(ErrorBody.self)
        #expect(typed.fields == ["age": ["must be a whole number"]])

        struct Body: Encodable {
            let username: String
            let password: String
            let email: String
            let age: Int
        }
        let all = try await app.test.post(
            "/signup",
            json: Body(username: "a!", password: "a!", email: "nope", age: 5),
            headers: ["accept": "application/json"]
        )
        #expect(all.status == .unprocessableEntity)
        let body = try all.json(ErrorBody.self)
        #expect(body.status == 422)
        #expect(body.fields?["username"] == ["must have 3 to 20 characters; it has 2", "may contain only letters and digits, not '!'"])
        #expect(body.fields?["password"] == ["must have at least 8 characters", "must not be the username"])
        #expect(body.fields?["email"] == ["must be an e-mail address"])
        #expect(body.fields?["age"] == ["must be from 13 to 130"])
        #expect(body.error.hasPrefix("username: must have 3 to 20 characters"))
    }

    @Test func validInputPassesAndFormsWork() async throws {
        let app = Self.app()
        let ok = await app.test.post("/signup", form: ["username": "ann", "password": "correct horse", "age": "30"])
        #expect(ok.status == .ok)
        #expect(try ok.json(SignUp.self).username == "ann")
        let missing = await app.test.post("/signup", "{}", contentType: "application/json", headers: ["accept": "application/json"])
        #expect(missing.status == .unprocessableEntity)
        #expect(try missing.json(ErrorBody.self).fields == ["username": ["is required"]])
        let text = await app.test.post("/signup", form: ["username": "x", "password": "short", "age": "20"])
        #expect(text.status == .unprocessableEntity)
        #expect(text.text.contains("username: must have 3 to 20 characters; it has 1"))
        #expect(text.text.contains("password: must have at least 8 characters"))
    }

    @Test func theFailureGivesATemplateContextWithoutPasswords() {
        let failure = ValidationFailure([.init(name: "username", messages: ["is taken"])])
        let context = failure.templateContext(values: ["username": "ann", "password": "hunter22"])
        #expect((context["values"] as? [String: String]) == ["username": "ann"])
        #expect((context["errors"] as? [String: [String]]) == ["username": ["is taken"]])
    }

    @Test func appWideJSONSettingsApplyToResponsesAndDecoding() async throws {
        struct Event: Content { let startsAt: Date }
        let app = App()
        app.jsonEncoder.dateEncodingStrategy = .iso8601
        app.jsonEncoder.keyEncodingStrategy = .convertToSnakeCase
        app.jsonDecoder.dateDecodingStrategy = .iso8601
        app.jsonDecoder.keyDecodingStrategy = .convertFromSnakeCase
        app.get("/event") { _ in Event(startsAt: Date(timeIntervalSince1970: 0)) }
        app.get("/json") { _ in JSON(Event(startsAt: Date(timeIntervalSince1970: 60))) }
        app.post("/echo") { req in try req.decode(Event.self) }
        #expect(await app.test.get("/event").text == #"{"starts_at":"1970-01-01T00:00:00Z"}"#)
        #expect(await app.test.get("/json").text == #"{"starts_at":"1970-01-01T00:01:00Z"}"#)
        let echoed = await app.test.post("/echo", #"{"starts_at":"2001-01-01T00:00:00Z"}"#, contentType: "application/json")
        #expect(echoed.text == #"{"starts_at":"2001-01-01T00:00:00Z"}"#)
    }
}
