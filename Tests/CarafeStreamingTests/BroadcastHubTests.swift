import Testing

@testable import CarafeStreaming

@Suite struct BroadcastHubTests {
    @Test func everySubscriberGetsEveryMessageInOrder() async {
        let hub = BroadcastHub()
        let first = hub.subscribe("room")
        let second = hub.subscribe("room")
        let elsewhere = hub.subscribe("other")
        #expect(hub.publish("a", on: "room") == 2)
        #expect(hub.publish("b", on: "room") == 2)
        #expect(hub.subscriberCount("other") == 1)
        var one = first.makeAsyncIterator()
        var two = second.makeAsyncIterator()
        #expect(await one.next() == "a")
        #expect(await one.next() == "b")
        #expect(await two.next() == "a")
        #expect(await two.next() == "b")
        _ = elsewhere
    }

    @Test func aSlowSubscriberLosesItsOldestMessagesUnderDropOldest() async {
        let hub = BroadcastHub(bufferSize: 2, policy: .dropOldest)
        let slow = hub.subscribe("room")
        for message in ["1", "2", "3", "4"] { #expect(hub.publish(message, on: "room") == 1) }
        var iterator = slow.makeAsyncIterator()
        #expect(await iterator.next() == "3")
        #expect(await iterator.next() == "4")
        #expect(hub.subscriberCount("room") == 1)
    }

    @Test func aSlowSubscriberIsDisconnectedUnderDisconnect() async {
        let hub = BroadcastHub(bufferSize: 2, policy: .disconnect)
        let slow = hub.subscribe("room")
        #expect(hub.publish("1", on: "room") == 1)
        #expect(hub.publish("2", on: "room") == 1)
        // The third does not fit: the subscriber is cut off, and not counted.
        #expect(hub.publish("3", on: "room") == 0)
        var received: [String] = []
        for await message in slow { received.append(message) }
        #expect(received == ["1", "2"])
        #expect(hub.subscriberCount("room") == 0)
    }

    @Test func aCancelledSubscriberLeavesTheHub() async {
        let hub = BroadcastHub()
        let listening = Task {
            for await _ in hub.subscribe("room") {}
        }
        while hub.subscriberCount("room") == 0 { await Task.yield() }
        listening.cancel()
        await listening.value
        #expect(hub.subscriberCount("room") == 0)
        #expect(hub.publish("anyone?", on: "room") == 0)
    }

    @Test func aLongPollGetsTheNextMessageOrNilAfterItsTimeout() async throws {
        let hub = BroadcastHub()
        #expect(await hub.next(on: "room", timeout: .milliseconds(50)) == nil)
        #expect(hub.subscriberCount("room") == 0)
        async let polled = hub.next(on: "room", timeout: .seconds(10))
        while hub.subscriberCount("room") == 0 { try await Task.sleep(for: .milliseconds(5)) }
        hub.publish("news", on: "room")
        #expect(await polled == "news")
        #expect(hub.subscriberCount("room") == 0)
    }

    @Test func aCancelledLongPollEndsAtOnce() async {
        let hub = BroadcastHub()
        let poll = Task { await hub.next(on: "room", timeout: .seconds(60)) }
        while hub.subscriberCount("room") == 0 { await Task.yield() }
        let start = ContinuousClock.now
        poll.cancel()
        #expect(await poll.value == nil)
        #expect(ContinuousClock.now - start < .seconds(30), "the wait ran to its timeout")
        #expect(hub.subscriberCount("room") == 0)
    }
}
