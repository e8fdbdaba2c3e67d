/// Carries a `BroadcastHub`'s broadcasts between processes, so that subscribers in every
/// worker process, and on every machine, receive what any of them broadcasts.
/// `PostgresBackplane` (module `CarafePostgres`) implements it with LISTEN/NOTIFY.
public protocol BroadcastBackplane: Sendable {
    /// Sends `message` on `channel` to every process, this one included.
    func send(_ message: String, on channel: String) async throws

    /// Starts receiving: from now on, calls `deliver(message, channel)` for each message any
    /// process sends. The hub calls it once, when it gets its first subscriber.
    func start(delivering deliver: @escaping @Sendable (_ message: String, _ channel: String) -> Void)

    /// Stops receiving and lets go of what `start` opened (the hub's service calls it at the
    /// graceful shutdown). The default does nothing.
    func stop() async
}

extension BroadcastBackplane {
    public func stop() async {}
}
