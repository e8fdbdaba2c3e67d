/// A user who logs in with a session (Flask-Login's `UserMixin`): what the app's loader
/// (`App.login(_:loader:)`) returns for the id the session keeps.
///
///     struct User: SessionUser {
///         let id: Int
///         let username: String
///         let sessionVersion: Int
///         var sessionID: String { String(self.id) }
///     }
public protocol SessionUser: Sendable {
    /// What the session keeps to find the user again: their id, as text.
    var sessionID: String { get }
    /// A value that changes when every session of this user must end (a number the app
    /// increments at log-out, at a password change, or when an account is taken over). A
    /// session made while the user had another version is refused when it is next loaded,
    /// so a copied or replayed cookie stops working. The default, "", never changes.
    var sessionVersion: String { get }
}

extension SessionUser {
    public var sessionVersion: String { "" }
}
