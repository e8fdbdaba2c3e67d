import Carafe
import CarafeDatabase
import CarafeStreaming
import Foundation
import Testing

/// Two hubs on one database, as two processes would have: LISTEN/NOTIFY between them.
@Suite struct PostgresBackplaneTests {
    @Test func aBroadcastReachesTheSubscribersOfEveryHubButNotOtherChannels() async throws {
        let db = try await Backend.postgres.makeDatabase()
        defer { Task { await db.shutdown() } }
        let backplanes = try [PostgresBackplane(database: db), PostgresBackplane(database: db)]
        let hubs = backplanes.map { BroadcastHub(backplane: $0) }
        let chats = hubs.map { $0.subscribe("chat") }
        let news = hubs[1].subscribe("news")
        for _ in 0..<200 where !backplanes.allSatisfy(\.isListening) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(backplanes.allSatisfy { $0.isListening })
        try await hubs[0].broadcast("hello", on: "chat")
        try await hubs[1].broadcast("headline", on: "news")
        for chat in chats {
            var iterator = chat.makeAsyncIterator()
            #expect(await iterator.next() == "hello")
        }
        var newsIterator = news.makeAsyncIterator()
        #expect(await newsIterator.next() == "headline")
        for backplane in backplanes { await backplane.stop() }
        #expect(backplanes.allSatisfy { !$0.isListening })
    }

    @Test func aMessageOverNotifysLimitIsRefusedBeforeSending() async throws {
        let db = try await Backend.postgres.makeDatabase()
        defer { Task { await db.shutdown() } }
        let hub = BroadcastHub(backplane: try PostgresBackplane(database: db))
        let error = await #expect(throws: HTTPError.self) { try await hub.broadcast(String(repeating: "é", count: 4000), on: "chat") }
        #expect(error?.status == .payloadTooLarge)
        try await hub.broadcast(String(repeating: "x", count: 7000), on: "chat")
    }

    @Test func aSQLiteDatabaseHasNoBackplane() throws {
        #expect(throws: DatabaseURLError.self) { try PostgresBackplane(database: Database.open(url: "sqlite::memory:")) }
    }
}
