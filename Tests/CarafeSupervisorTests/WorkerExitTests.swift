import Glibc
import Testing

@testable import CarafeSupervisor

/// `WorkerExit`: the statuses a worker and its master agree on, decoded from `waitpid`.
@Suite struct WorkerExitTests {
    @Test func exitStatusesAreDecodedAndNamed() {
        let clean = WorkerExit(waitStatus: 0)
        #expect(clean == .exited(0) && clean.isClean && !clean.isBootError)
        #expect(clean.description == "exited with status 0")

        let bootError = WorkerExit(waitStatus: WorkerExit.bootErrorStatus << 8)
        #expect(bootError == .exited(3) && bootError.isBootError && !bootError.isClean)
        #expect(bootError.description == "exited with status 3")
    }

    @Test func aSignalIsDecodedWithItsName() {
        let killed = WorkerExit(waitStatus: SIGKILL)
        #expect(killed == .killed(signal: SIGKILL) && !killed.isClean && !killed.isBootError)
        #expect(killed.description == "was killed by signal 9 (Killed)")
    }

    /// The real thing: a child that exits with the boot-error status, read back by `waitpid`.
    @Test func aChildsBootErrorStatusRoundTrips() throws {
        let pid = fork()
        if pid == 0 { _exit(WorkerExit.bootErrorStatus) }
        try #require(pid > 0)
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid)
        #expect(WorkerExit(waitStatus: status).isBootError)
    }
}
