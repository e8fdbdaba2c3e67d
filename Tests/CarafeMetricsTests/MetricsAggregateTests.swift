import CarafeSupervisor
import Synchronization
import Testing

@testable import CarafeMetrics

/// The pieces of the multi-process aggregation, without processes: the heartbeat pipe's
/// framing, a worker's delta report, and the master's sum.
@Suite struct MetricsAggregateTests {
    @Test func heartbeatReaderSplitsBeatsAndFramesHoweverTheBytesArrive() {
        let frame = HeartbeatFrame(kind: .metrics, payload: Array("a 1\nb 2\n".utf8))
        let stream: [UInt8] =
            [UInt8(ascii: ".")] + frame.encoded + [UInt8(ascii: "."), UInt8(ascii: ".")]
            + HeartbeatFrame(kind: .inFlight, payload: []).encoded
        for size in [1, 2, 3, 7, stream.count] {
            var reader = HeartbeatReader()
            var all = HeartbeatReader.Events()
            var index = 0
            while index < stream.count {
                let events = reader.feed(stream[index..<min(stream.count, index + size)])
                all.beats += events.beats
                all.frames += events.frames
                all.garbage += events.garbage
                index += size
            }
            #expect(all.beats == 3, "chunks of \(size)")
            #expect(all.frames == [frame, HeartbeatFrame(kind: .inFlight, payload: [])], "chunks of \(size)")
            #expect(all.garbage == 0)
        }
    }

    @Test func aHeaderClaimingAHugeFrameIsSkippedNotAwaited() {
        var reader = HeartbeatReader()
        let events = reader.feed([UInt8(ascii: "F"), UInt8(ascii: "M"), 0xFF, 0xFF, 0xFF, 0xFF, UInt8(ascii: ".")])
        #expect(events.beats == 1)
        #expect(events.frames.isEmpty)
        #expect(events.garbage == 6)
    }

    @Test func aWorkerReportsIncreasesOfCountersAndValuesOfGauges() {
        let reported = Mutex<[String: Double]>([:])
        let first = """
            # TYPE requests_total counter
            requests_total{route="/"} 3
            # TYPE active gauge
            active 2

            """
        #expect(
            WorkerMetricsReporter.delta(of: first, since: reported)
                == "# TYPE requests_total counter\nrequests_total{route=\"/\"} 3\n# TYPE active gauge\nactive 2\n"
        )
        let second = first.replacingOccurrences(of: "} 3", with: "} 5").replacingOccurrences(of: "active 2", with: "active 0")
        #expect(
            WorkerMetricsReporter.delta(of: second, since: reported)
                == "# TYPE requests_total counter\nrequests_total{route=\"/\"} 2\n# TYPE active gauge\nactive 0\n"
        )
        // Nothing new: no counter sample at all.
        #expect(
            WorkerMetricsReporter.delta(of: second, since: reported) == "# TYPE requests_total counter\n# TYPE active gauge\nactive 0\n"
        )
    }

    @Test func theMasterSumsCountersForeverAndGaugesOfLiveWorkers() {
        var aggregate = MetricsAggregate()
        let histogram = """
            # TYPE d histogram
            d_bucket{le="0.1"} 2
            d_bucket{le="+Inf"} 3
            d_sum 0.5
            d_count 3
            # TYPE active gauge
            active 4

            """
        aggregate.apply(histogram, from: 1)
        aggregate.apply(histogram, from: 2)
        #expect(
            aggregate.render()
                == "# TYPE d histogram\nd_bucket{le=\"0.1\"} 4\nd_bucket{le=\"+Inf\"} 6\nd_sum 1\nd_count 6\n# TYPE active gauge\nactive 8\n"
        )
        // Worker 2 dies: what it counted stays, its gauge goes.
        aggregate.remove(worker: 2)
        #expect(
            aggregate.render()
                == "# TYPE d histogram\nd_bucket{le=\"0.1\"} 4\nd_bucket{le=\"+Inf\"} 6\nd_sum 1\nd_count 6\n# TYPE active gauge\nactive 4\n"
        )
        aggregate.apply("# TYPE d histogram\nd_bucket{le=\"+Inf\"} 1\nd_count 1\nd_sum 0.25\n", from: 3)
        #expect(aggregate.render().contains("d_count 7\n"))
        #expect(aggregate.render().contains("d_sum 1.25\n"))
    }
}
