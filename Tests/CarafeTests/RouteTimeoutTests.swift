import Testing

@testable import CarafeCore

/// Where a route's handler deadline comes from: its own `timeout:`, else the innermost
/// blueprint's (or the app's) `timeout(_:)`, else the app-wide `--handler-timeout` (nil here).
/// The deadline itself is enforced by the connection (CarafeHTTPTests' ConnectionCoreTests
/// and HTTPConnectionStateMachineTests).
@Suite struct RouteTimeoutTests {
    static func deadlines(_ app: App) -> [String] {
        app.routes.map { route in
            "\(route.method.rawValue) \(route.pattern): " + (route.handlerDeadline.map { "\($0.timeout) (\($0.origin))" } ?? "none")
        }
    }

    @Test func aRoutesOwnTimeoutWinsOverItsBlueprintsWhichWinsOverTheAppsAndTheFlag() {
        let app = App()
        app.get("/plain") { _ in "ok" }
        app.get("/report", timeout: .seconds(5)) { _ in "ok" }
        let reports = Blueprint("reports", prefix: "/reports").timeout(.seconds(30))
        reports.get("/daily") { _ in "ok" }
        reports.post("/rebuild", timeout: .seconds(120)) { _ in "ok" }
        let nested = Blueprint("nested", prefix: "/nested")
        nested.get("/inner") { _ in "ok" }
        reports.register(nested)
        app.register(reports)
        #expect(
            Self.deadlines(app) == [
                "GET /plain: none",
                "GET /report: 5.0 seconds (the timeout of route GET /report)",
                "GET /reports/daily: 30.0 seconds (the timeout of blueprint 'reports')",
                "POST /reports/rebuild: 120.0 seconds (the timeout of route POST /reports/rebuild)",
                "GET /reports/nested/inner: 30.0 seconds (the timeout of blueprint 'reports')",
            ]
        )
    }

    @Test func theAppsTimeoutAppliesToEveryRouteThatSaysNothing() {
        let app = App()
        app.timeout(.milliseconds(2500))
        app.get("/a") { _ in "ok" }
        app.get("/b", timeout: .seconds(1)) { _ in "ok" }
        #expect(
            Self.deadlines(app) == [
                "GET /a: 2.5 seconds (the app's timeout)",
                "GET /b: 1.0 seconds (the timeout of route GET /b)",
            ]
        )
        #expect(app.routes.map(\.timeout) == [nil, .seconds(1)])
    }
}
