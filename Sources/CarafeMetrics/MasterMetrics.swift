import CarafeSupervisor
import Foundation
import Prometheus
import Synchronization

/// The master's metrics: the sum of its workers' reports (`MetricsAggregate`) and what only
/// the master knows:
///
/// - `carafe_worker_restarts_total{cause}`: workers that ended, by `WorkerExitCause`
///   (`crash`, `timeout`, `max_requests`, `reload`, `stopped`);
/// - `carafe_worker_boot_failures_total`: workers that died before serving;
/// - `carafe_workers`: workers running;
/// - `carafe_worker_heartbeat_age_seconds{worker}`: since each worker's last beat;
/// - `carafe_worker_resident_memory_bytes{worker}`: each worker's resident memory;
/// - `carafe_reload_duration_seconds`: how long the last reload (HUP) took to serve in full,
///   and `carafe_reloads_total`.
///
/// The arbiter calls it on its own thread; the endpoint reads it on its own, under a lock.
final class MasterMetrics: ArbiterObserver, @unchecked Sendable {
    private struct State {
        var aggregate = MetricsAggregate()
        var workers: [ArbiterWorkerInfo] = []
        var restarts: [WorkerExitCause: Int] = [:]
        var bootFailures = 0
        var reloads = 0
        var lastReload: Duration?
    }

    private let state = Mutex(State())
    var endpoint: (any Sendable)?

    func worker(_ worker: ArbiterWorkerInfo, sent frame: HeartbeatFrame) {
        guard frame.kind == .metrics else { return }
        let report = String(decoding: frame.payload, as: UTF8.self)
        self.state.withLock { $0.aggregate.apply(report, from: worker.number) }
    }

    func workerExited(_ worker: ArbiterWorkerInfo, cause: WorkerExitCause) {
        self.state.withLock { state in
            state.aggregate.remove(worker: worker.number)
            state.restarts[cause, default: 0] += 1
        }
    }

    func workerFailedToBoot(_ worker: ArbiterWorkerInfo) {
        self.state.withLock { $0.bootFailures += 1 }
    }

    func workersRunning(_ workers: [ArbiterWorkerInfo]) {
        self.state.withLock { $0.workers = workers }
    }

    func reloadFinished(after duration: Duration) {
        self.state.withLock { state in
            state.reloads += 1
            state.lastReload = duration
        }
    }

    /// The whole `/metrics` text.
    func exposition() -> String {
        let state = self.state.withLock { $0 }
        let now = ContinuousClock.now
        var out = state.aggregate.render()
        out += "# TYPE carafe_worker_restarts_total counter\n"
        for cause in WorkerExitCause.allCases {
            out += "carafe_worker_restarts_total{cause=\"\(cause.rawValue)\"} \(state.restarts[cause] ?? 0)\n"
        }
        out += "# TYPE carafe_worker_boot_failures_total counter\ncarafe_worker_boot_failures_total \(state.bootFailures)\n"
        out += "# TYPE carafe_workers gauge\ncarafe_workers \(state.workers.count)\n"
        out += "# TYPE carafe_worker_heartbeat_age_seconds gauge\n"
        for worker in state.workers {
            out +=
                "carafe_worker_heartbeat_age_seconds{worker=\"\(worker.number)\"} \(PrometheusText.format(Self.seconds(now - worker.lastBeat)))\n"
        }
        out += "# TYPE carafe_worker_resident_memory_bytes gauge\n"
        for worker in state.workers {
            if let bytes = Self.residentMemory(of: worker.pid) {
                out += "carafe_worker_resident_memory_bytes{worker=\"\(worker.number)\"} \(bytes)\n"
            }
        }
        out += "# TYPE carafe_reloads_total counter\ncarafe_reloads_total \(state.reloads)\n"
        if let last = state.lastReload {
            out +=
                "# TYPE carafe_reload_duration_seconds gauge\ncarafe_reload_duration_seconds \(PrometheusText.format(Self.seconds(last)))\n"
        }
        return out
    }

    static func seconds(_ duration: Duration) -> Double {
        duration / .seconds(1)
    }

    /// Resident memory from `/proc/PID/statm`.
    static func residentMemory(of pid: Int32) -> Int? { ProcessMemory.resident(of: pid) }
}
