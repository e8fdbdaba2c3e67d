import Carafe
import CarafeDatabase
import Foundation

/// Every statement the app runs, in one place. Each page is at most two queries: the posts,
/// with their authors joined (no query per post), and one row about the viewer or the user.
enum Queries {

    /// Page `page` of the home timeline of `viewer`: their posts and those of whom they follow,
    /// newest first. Reads one row more than a page, to know whether there is a next one.
    ///
    /// On PostgreSQL, each followed user's newest posts come from the (user_id, created_at)
    /// index, at most as many as the page needs (LATERAL), and only those are sorted: the cost
    /// depends on whom the viewer follows, not on how much they wrote. SQLite has no LATERAL.
    static func timeline(_ db: some SQLExecutor, viewer: Int, page: Int, perPage: Int) async throws -> (posts: [Post], hasNext: Bool) {
        let (limit, offset) = (perPage + 1, (page - 1) * perPage)
        let authors: SQL = "SELECT followed_id FROM follows WHERE follower_id = \(viewer) UNION ALL SELECT \(viewer)"
        let sql: SQL
        if db.dialect == .postgres {
            sql = """
                SELECT p.id, p.user_id, u.username, p.body, p.created_at, u.avatar
                FROM (\(authors)) AS f (id)
                JOIN users u ON u.id = f.id
                CROSS JOIN LATERAL (
                    SELECT id, user_id, body, created_at FROM posts WHERE posts.user_id = f.id
                    ORDER BY created_at DESC, id DESC LIMIT \(offset + limit)
                ) AS p
                ORDER BY p.created_at DESC, p.id DESC
                LIMIT \(limit) OFFSET \(offset)
                """
        } else {
            sql = """
                SELECT p.id, p.user_id, u.username, p.body, p.created_at, u.avatar
                FROM posts p JOIN users u ON u.id = p.user_id
                WHERE p.user_id IN (\(authors))
                ORDER BY p.created_at DESC, p.id DESC
                LIMIT \(limit) OFFSET \(offset)
                """
        }
        let rows = try await db.query(sql, as: Post.self)
        return (Array(rows.prefix(perPage)), rows.count > perPage)
    }

    /// Page `page` of one user's posts, newest first.
    static func posts(_ db: some SQLExecutor, by userId: Int, page: Int, perPage: Int) async throws -> (posts: [Post], hasNext: Bool) {
        let rows = try await db.query(
            """
            SELECT p.id, p.user_id, u.username, p.body, p.created_at, u.avatar
            FROM posts p JOIN users u ON u.id = p.user_id
            WHERE p.user_id = \(userId)
            ORDER BY p.created_at DESC, p.id DESC
            LIMIT \(perPage + 1) OFFSET \((page - 1) * perPage)
            """,
            as: Post.self
        )
        return (Array(rows.prefix(perPage)), rows.count > perPage)
    }

    /// A user's profile with their counts, by name (in any case: `ANN` is ann) or by id; `viewer` decides `followedByViewer`.
    static func profile(_ db: some SQLExecutor, username: String? = nil, id: Int? = nil, viewer: Int?) async throws -> Profile? {
        let which: SQL = username.map { "lower(u.username) = lower(\($0))" } ?? "u.id = \(id ?? -1)"
        return try await db.first(
            """
            SELECT u.id, u.username, u.created_at, u.avatar,
                (SELECT count(*) FROM posts WHERE user_id = u.id) AS posts,
                (SELECT count(*) FROM follows WHERE follower_id = u.id) AS following,
                (SELECT count(*) FROM follows WHERE followed_id = u.id) AS followers,
                EXISTS (SELECT 1 FROM follows WHERE follower_id = \(viewer ?? -1) AND followed_id = u.id) AS followed_by_viewer
            FROM users u WHERE \(which)
            """,
            as: Profile.self
        )
    }

    struct Credentials: Decodable {
        let id: Int
        let username: String
        let passwordHash: String
        let sessionVersion: Int

        var viewer: Viewer { Viewer(id: self.id, username: self.username, version: self.sessionVersion) }
    }

    /// The user who logs in as `username`, in any case.
    static func credentials(_ db: some SQLExecutor, username: String) async throws -> Credentials? {
        try await db.first(
            "SELECT id, username, password_hash, session_version FROM users WHERE lower(username) = lower(\(username))",
            as: Credentials.self
        )
    }

    /// The logged-in user the session names (`app.login`'s loader).
    static func viewer(_ db: some SQLExecutor, id: Int) async throws -> Viewer? {
        try await db.first("SELECT id, username, session_version FROM users WHERE id = \(id)", as: Viewer.self)
    }

    /// The user whose API token has the SHA-256 `tokenHash` (`Authorization: Bearer`).
    static func viewer(_ db: some SQLExecutor, tokenHash: String) async throws -> Viewer? {
        try await db.first(
            "SELECT u.id, u.username, u.session_version FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = \(tokenHash)",
            as: Viewer.self
        )
    }

    static func addToken(_ db: some SQLExecutor, hash: String, userId: Int) async throws {
        try await db.execute("INSERT INTO api_tokens (token_hash, user_id) VALUES (\(hash), \(userId))")
    }

    /// Ends every session of `userId`: the version their sessions carry no longer matches.
    static func endSessions(_ db: some SQLExecutor, userId: Int) async throws {
        try await db.execute("UPDATE users SET session_version = session_version + 1 WHERE id = \(userId)")
    }

    /// Adds a user; nil if the name is taken in any case (the unique index on lower(username)
    /// decides, so two sign-ups cannot both win).
    static func createUser(_ db: some SQLExecutor, username: String, passwordHash: String) async throws -> Int? {
        do {
            return try await db.first(
                "INSERT INTO users (username, password_hash) VALUES (\(username), \(passwordHash)) RETURNING id",
                as: Int.self
            )
        } catch let error as DatabaseError where error.kind == .uniqueViolation {
            return nil
        }
    }

    struct Inserted: Decodable {
        let id: Int
        let createdAt: Date
    }

    static func createPost(_ db: some SQLExecutor, by viewer: Viewer, body: String) async throws -> Post {
        guard
            let row = try await db.first(
                "INSERT INTO posts (user_id, body) VALUES (\(viewer.id), \(body)) RETURNING id, created_at",
                as: Inserted.self
            )
        else {
            throw HTTPError(.internalServerError, "The post was not stored.")
        }
        return Post(id: row.id, userId: viewer.id, username: viewer.username, body: body, createdAt: row.createdAt)
    }

    struct AvatarRow: Decodable { let avatar: String? }

    /// Gives `userId` the picture `name`; returns the one it had, for removal.
    static func setAvatar(_ db: some SQLExecutor, userId: Int, to name: String) async throws -> String? {
        let old = try await db.first("SELECT avatar FROM users WHERE id = \(userId)", as: AvatarRow.self)
        try await db.execute("UPDATE users SET avatar = \(name) WHERE id = \(userId)")
        return old?.avatar
    }

    static func userId(_ db: some SQLExecutor, username: String) async throws -> Int? {
        try await db.first("SELECT id FROM users WHERE lower(username) = lower(\(username))", as: Int.self)
    }

    static func follow(_ db: some SQLExecutor, follower: Int, followed: Int) async throws {
        try await db.execute("INSERT INTO follows (follower_id, followed_id) VALUES (\(follower), \(followed)) ON CONFLICT DO NOTHING")
    }

    static func unfollow(_ db: some SQLExecutor, follower: Int, followed: Int) async throws {
        try await db.execute("DELETE FROM follows WHERE follower_id = \(follower) AND followed_id = \(followed)")
    }

    /// Whom `viewer` follows, and `viewer`: whose posts their live timeline shows.
    static func followedIds(_ db: some SQLExecutor, viewer: Int) async throws -> Set<Int> {
        Set(try await db.query("SELECT followed_id FROM follows WHERE follower_id = \(viewer)", as: Int.self)).union([viewer])
    }
}
