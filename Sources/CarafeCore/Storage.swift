import Synchronization

/// Names a slot in a `Storage` and says what it holds, so that reading it needs no cast
/// (Vapor's `StorageKey`):
///
///     enum CurrentUser: StorageKey { typealias Value = User }
///     req.storage[CurrentUser.self] = user
///     let user = req.storage[CurrentUser.self]         // User?
public protocol StorageKey {
    associatedtype Value: Sendable
}

/// Values kept by key type: a request's (`Request.storage`, Flask's `g`) or an app's
/// (`App.storage`, Flask's `app.extensions`).
///
/// It is a reference, and each access takes a lock, so a handler may share it with the child
/// tasks it starts without a data race.
public final class Storage: Sendable {
    private let values = Mutex<[ObjectIdentifier: any Sendable]>([:])

    public init() {}

    /// The value stored under `key`, or nil; setting nil removes it.
    public subscript<Key: StorageKey>(_ key: Key.Type) -> Key.Value? {
        get { self.values.withLock { $0[ObjectIdentifier(key)] } as? Key.Value }
        set { self.values.withLock { $0[ObjectIdentifier(key)] = newValue } }
    }

    /// The value stored under `key`, made by `make` and stored first if there is none; the
    /// check and the store happen under one lock, so two tasks never both make it.
    public func get<Key: StorageKey>(_ key: Key.Type, orSet make: () throws -> Key.Value) rethrows -> Key.Value {
        try self.values.withLock { values in
            if let value = values[ObjectIdentifier(key)] as? Key.Value { return value }
            let value = try make()
            values[ObjectIdentifier(key)] = value
            return value
        }
    }

    /// Whether a value is stored under `key`.
    public func contains<Key: StorageKey>(_ key: Key.Type) -> Bool {
        self.values.withLock { $0[ObjectIdentifier(key)] != nil }
    }
}
