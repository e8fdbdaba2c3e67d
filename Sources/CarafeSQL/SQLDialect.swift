/// The SQL that differs between the databases Carafe speaks to.
public enum SQLDialect: Sendable, Hashable {
    case postgres
    case sqlite

    /// The placeholder of the `index`th parameter (from 1): `$1` or `?`.
    public func placeholder(_ index: Int) -> String {
        switch self {
        case .postgres: "$\(index)"
        case .sqlite: "?"
        }
    }

    /// The statement that opens a transaction. SQLite's takes the write lock at once, so two
    /// writers wait for each other (up to the busy timeout) instead of failing when they
    /// upgrade from reading to writing.
    var begin: SQL {
        switch self {
        case .postgres: "BEGIN"
        case .sqlite: "BEGIN IMMEDIATE"
        }
    }
}
