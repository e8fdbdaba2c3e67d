import Carafe
import CarafeSessions
import Foundation

/// A post with its author's name, as the timeline queries return it and the JSON API sends it.
struct Post: Content, Sendable {
    let id: Int
    let userId: Int
    let username: String
    let body: String
    let createdAt: Date
    /// The author's picture (its name in the avatar directory), if they have one.
    var avatar: String? = nil

    enum CodingKeys: String, CodingKey {
        case id, username, body, avatar
        case userId = "user_id"
        case createdAt = "created_at"
    }

    /// Times go out as ISO 8601 text in UTC.
    func encode(to encoder: any Encoder) throws {
        var json = encoder.container(keyedBy: CodingKeys.self)
        try json.encode(self.id, forKey: .id)
        try json.encode(self.userId, forKey: .userId)
        try json.encode(self.username, forKey: .username)
        try json.encode(self.body, forKey: .body)
        try json.encode(self.createdAt.formatted(.iso8601), forKey: .createdAt)
        try json.encodeIfPresent(self.avatar, forKey: .avatar)
    }

    /// What a template shows of it (escaped by the template): the time for people ("5 minutes
    /// ago"), and in ISO 8601 for the `<time datetime>`.
    var templateContext: [String: Any] {
        var context: [String: Any] = [
            "id": self.id, "username": self.username, "body": self.body, "time": self.createdAt.formatted(.iso8601),
            "ago": Formatting.ago(self.createdAt),
        ]
        if let avatar { context["avatar"] = avatar }
        return context
    }
}

/// A user's public profile: counts, and whether the viewer follows them.
struct Profile: Content, Sendable {
    let id: Int
    let username: String
    let createdAt: Date
    let posts: Int
    let following: Int
    let followers: Int
    /// Whether the logged-in viewer follows this user (false without one).
    let followedByViewer: Bool
    /// Their picture's name in the avatar directory, if they have one.
    var avatar: String? = nil

    enum CodingKeys: String, CodingKey {
        case id, username, posts, following, followers, avatar
        case createdAt = "created_at"
        case followedByViewer = "followed_by_viewer"
    }

    /// Times go out as ISO 8601 text in UTC.
    func encode(to encoder: any Encoder) throws {
        var json = encoder.container(keyedBy: CodingKeys.self)
        try json.encode(self.id, forKey: .id)
        try json.encode(self.username, forKey: .username)
        try json.encode(self.createdAt.formatted(.iso8601), forKey: .createdAt)
        try json.encode(self.posts, forKey: .posts)
        try json.encode(self.following, forKey: .following)
        try json.encode(self.followers, forKey: .followers)
        try json.encode(self.followedByViewer, forKey: .followedByViewer)
        try json.encodeIfPresent(self.avatar, forKey: .avatar)
    }
}

/// One page of posts, as the JSON API sends it.
struct PostPage: Content, Sendable {
    let page: Int
    let perPage: Int
    let hasNext: Bool
    let posts: [Post]

    enum CodingKeys: String, CodingKey {
        case page, posts
        case perPage = "per_page"
        case hasNext = "has_next"
    }
}

/// The logged-in user (`req.user`), loaded from the `users` row the session names. Their
/// `session_version` goes up at log-out, which ends every session they had: a copied cookie
/// stops working (see `SessionUser`).
struct Viewer: SessionUser, Decodable {
    let id: Int
    let username: String
    let version: Int

    enum CodingKeys: String, CodingKey {
        case id, username
        case version = "session_version"
    }

    var sessionID: String { String(self.id) }
    var sessionVersion: String { String(self.version) }
}
