import Testing

@testable import CarafeSupervisor

/// `WorkerContext.parse`: what a worker reads from the environment its master gave it, and the
/// bad values refused with the variable, its value and the rule named. No process.
@Suite struct WorkerContextTests {
    static let good = [
        "CARAFE_WORKER": "2", "CARAFE_LISTEN_FDS": "3,4", "CARAFE_HEARTBEAT_FD": "5", "CARAFE_HEARTBEAT_MS": "250",
        "CARAFE_MASTER_PID": "4242",
    ]

    static func with(_ changes: [String: String?]) -> [String: String] {
        var environment = Self.good
        for (name, value) in changes { environment[name] = value }
        return environment
    }

    static func refusal(_ environment: [String: String]) -> WorkerContextError? {
        do {
            _ = try WorkerContext.parse(environment)
            return nil
        } catch {
            return error
        }
    }

    @Test func aMastersEnvironmentIsRead() throws {
        let context = try #require(try WorkerContext.parse(Self.good))
        #expect(context.number == 2)
        #expect(context.listenDescriptors == [3, 4])
        #expect(context.heartbeatDescriptor == 5)
        #expect(context.heartbeatInterval == .milliseconds(250))
        #expect(context.masterPID == 4242)
        #expect(context.bindAddresses.count == 2)
    }

    @Test func withoutTheVariablesTheProcessIsNotAWorker() throws {
        #expect(try WorkerContext.parse([:]) == nil)
        #expect(try WorkerContext.parse(["PATH": "/usr/bin", "LISTEN_FDS": "1"]) == nil)
    }

    @Test func theHeartbeatIntervalDefaultsToASecond() throws {
        let context = try #require(try WorkerContext.parse(Self.with(["CARAFE_HEARTBEAT_MS": nil])))
        #expect(context.heartbeatInterval == .seconds(1))
    }

    @Test(arguments: ["CARAFE_WORKER", "CARAFE_LISTEN_FDS", "CARAFE_HEARTBEAT_FD", "CARAFE_MASTER_PID"])
    func aMissingVariableIsNamed(variable: String) throws {
        let error = try #require(Self.refusal(Self.with([variable: nil])))
        #expect(error.variable == variable)
        #expect(error.value == nil)
        #expect(error.description.hasPrefix("this process was started as a worker, but \(variable) is not set"), "\(error)")
    }

    @Test(arguments: [
        ("CARAFE_WORKER", "0", "must be a worker number of 1 or more"),
        ("CARAFE_WORKER", "two", "must be a worker number of 1 or more"),
        ("CARAFE_WORKER", "-1", "must be a worker number of 1 or more"),
        ("CARAFE_WORKER", "", "must be a worker number of 1 or more"),
        ("CARAFE_WORKER", "99999999999999999999", "must be a worker number of 1 or more"),
        ("CARAFE_LISTEN_FDS", "3,x", "has \"x\": it must be a comma-separated list of descriptor numbers of 3 or more"),
        ("CARAFE_LISTEN_FDS", "", "has \"\": it must be a comma-separated list"),
        ("CARAFE_LISTEN_FDS", "3,,4", "has \"\": it must be a comma-separated list"),
        ("CARAFE_LISTEN_FDS", "1", "has \"1\": it must be a comma-separated list of descriptor numbers of 3 or more"),
        ("CARAFE_LISTEN_FDS", " 3", "has \" 3\""),
        ("CARAFE_LISTEN_FDS", "3,4,3", "names descriptor 3 twice"),
        ("CARAFE_LISTEN_FDS", "4294967299", "has \"4294967299\""),
        ("CARAFE_HEARTBEAT_FD", "2", "must be a descriptor number of 3 or more"),
        ("CARAFE_HEARTBEAT_FD", "4", "is also a listening socket in CARAFE_LISTEN_FDS=3,4"),
        ("CARAFE_HEARTBEAT_MS", "0", "must be a number of milliseconds of 1 or more"),
        ("CARAFE_HEARTBEAT_MS", "1.5", "must be a number of milliseconds of 1 or more"),
        ("CARAFE_MASTER_PID", "0", "must be a process id of 1 or more"),
        ("CARAFE_MASTER_PID", "abc", "must be a process id of 1 or more"),
    ])
    func aBadValueIsNamedWithTheRule(variable: String, value: String, problem: String) throws {
        let error = try #require(Self.refusal(Self.with([variable: value])), "\(variable)=\(value) was accepted")
        #expect(error.variable == variable)
        #expect(error.problem.hasPrefix(problem) || error.problem.contains(problem), "\(error)")
        let shown = variable == "CARAFE_HEARTBEAT_FD" && problem.contains("also") ? "4" : value
        #expect(error.description.contains("\(variable)=\"\(shown)\""), "\(error)")
    }
}
