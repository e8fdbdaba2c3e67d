import CarafeHTTP
import Testing

/// `--bind fd://N`: an inherited socket, as a master's workers and systemd get them.
@Suite struct FileDescriptorBindTests {
    @Test func parsesADescriptorNumber() throws {
        #expect(try BindAddress(parsing: "fd://3") == .fileDescriptor(3))
        #expect(try BindAddress(parsing: "fd://12").description == "fd://12")
    }

    @Test(arguments: ["fd://", "fd://three", "fd://-1"])
    func rejectsWhatIsNotADescriptorNumber(text: String) {
        #expect(throws: BindAddressError.self) { try BindAddress(parsing: text) }
    }
}
