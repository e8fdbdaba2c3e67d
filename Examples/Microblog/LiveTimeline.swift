import Carafe
import CarafeStreaming
import Foundation

/// New posts, as they are made, for the home pages that are open: one hub channel, `posts`,
/// carries every new post, and each subscriber keeps those of the users it follows. With a
/// PostgreSQL backplane, a post made in any worker process reaches the subscribers of all.
struct LiveTimeline: Sendable {
    static let channel = "posts"
    let hub: BroadcastHub
    let logger: Logger

    /// Tells every process's subscribers about `post`. A post is stored before this runs, so a
    /// failure here (the database went away) is logged and does not fail the request.
    func announce(_ post: Post) async {
        do {
            let json = String(decoding: try JSONEncoder().encode(post), as: UTF8.self)
            // "USER_ID JSON": subscribers filter on the id without decoding the JSON.
            try await self.hub.broadcast("\(post.userId) \(json)", on: Self.channel)
        } catch {
            self.logger.warning("post \(post.id) stored, but not announced on the live timeline: \(error)")
        }
    }

    /// Sends `events` each new post by a user in `authors`, as an event `post` whose data is
    /// the post's JSON, until the client leaves.
    func stream(to events: EventStream, authors: @Sendable () async throws -> Set<Int>) async throws {
        let posts = self.hub.subscribe(Self.channel)  // before reading `authors`: nothing is missed in between
        let authors = try await authors()
        try await events.comment("live")
        for await message in posts {
            guard let space = message.firstIndex(of: " "), let author = Int(message[..<space]), authors.contains(author) else { continue }
            try await events.send(data: String(message[message.index(after: space)...]), event: "post")
        }
    }
}
