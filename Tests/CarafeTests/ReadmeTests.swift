import Foundation
import Testing

/// The README's first snippet is `Examples/Readme/main.swift`, which the package builds: so the
/// snippet a newcomer pastes compiles.
@Suite struct ReadmeTests {
    @Test func theFirstSnippetIsTheExampleThatBuilds() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try String(contentsOf: root.appendingPathComponent("Examples/Readme/main.swift"), encoding: .utf8)
        let start = try #require(readme.range(of: "```swift\n"))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        #expect(String(readme[start.upperBound..<end.lowerBound]) == example)
    }
}
