import CarafeHTTP

extension App {
    /// The route table as the `routes` command prints it, with where each route runs under
    /// the app's worker class.
    public var routeTable: String { self.routeTable(workerClass: self.workerClass) }

    /// The route table, with where each route runs under `workerClass` (`routes --worker-class`).
    public func routeTable(workerClass: WorkerClass) -> String {
        let rows = self.routes.map { [$0.method.rawValue, $0.pattern.description, $0.name ?? "", $0.placement(workerClass)] }
        let header = ["METHOD", "PATH", "NAME", "RUNS ON"]
        let widths = header.indices.map { column in max(header[column].count, rows.map { $0[column].count }.max() ?? 0) }
        func row(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        let title =
            "worker class: \(workerClass) (routes that do not say blocking: run on the \(workerClass == .threads ? "thread pool" : "event loop"))\n"
        return title + ([row(header)] + rows.map(row)).map { $0.trimmingCharacters(in: .whitespaces) + "\n" }.joined()
    }

    /// The line `serve` logs at start: the worker class and the pool.
    var workerClassSummary: String {
        let pool =
            "a pool of \(self.blockingThreads) threads per process, at most \(self.threadQueueLimit) jobs queued (--thread-queue-limit)"
        switch self.workerClass {
        case .async:
            return "worker class async: handlers run on the event loops; blocking: true routes on \(pool)"
        case .threads:
            return "worker class threads: handlers run on \(pool), except blocking: false routes"
        }
    }

}
