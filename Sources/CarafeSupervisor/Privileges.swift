#if canImport(Glibc)
import Glibc
#endif

/// `--user` and `--group`: the master binds its sockets (a port below 1024 needs root), then
/// drops to the given user and group before it starts any worker, so no worker and no request
/// ever runs with root's rights. The supplementary groups are the user's own (initgroups), or
/// only `group` when it is given.
public enum Privileges {
    /// A user by name or number, as `--user` takes it: its uid and primary gid.
    public static func user(named text: String) throws -> (uid: uid_t, gid: gid_t) {
        if let entry = getpwnam(text) { return (entry.pointee.pw_uid, entry.pointee.pw_gid) }
        if let uid = uid_t(text) {
            if let entry = getpwuid(uid) { return (uid, entry.pointee.pw_gid) }
            return (uid, gid_t(uid))
        }
        throw SupervisorError.privileges("--user \(text): no such user")
    }

    /// A group by name or number, as `--group` takes it.
    public static func group(named text: String) throws -> gid_t {
        if let entry = getgrnam(text) { return entry.pointee.gr_gid }
        if let gid = gid_t(text) { return gid }
        throw SupervisorError.privileges("--group \(text): no such group")
    }

    /// Switches this process to `group` (else the user's primary group) and `user`; a no-op
    /// when both are nil. Throws if any step fails: a server must not run on with more rights
    /// than it was told to keep.
    public static func drop(user: uid_t?, group: gid_t?) throws {
        guard user != nil || group != nil else { return }
        let gid = group ?? user.flatMap { getpwuid($0)?.pointee.pw_gid } ?? getgid()
        if let user, group == nil, let entry = getpwuid(user) {
            guard initgroups(entry.pointee.pw_name, gid) == 0 else {
                throw SupervisorError.privileges("initgroups: \(String(cString: strerror(errno)))")
            }
        } else {
            var groups = [gid]
            guard setgroups(1, &groups) == 0 || getuid() != 0 else {
                throw SupervisorError.privileges("setgroups: \(String(cString: strerror(errno)))")
            }
        }
        guard setgid(gid) == 0 else { throw SupervisorError.privileges("setgid(\(gid)): \(String(cString: strerror(errno)))") }
        if let user {
            guard setuid(user) == 0 else { throw SupervisorError.privileges("setuid(\(user)): \(String(cString: strerror(errno)))") }
            // Root cannot be regained: setuid(0) must fail now.
            if user != 0, setuid(0) == 0 { throw SupervisorError.privileges("setuid(\(user)) left root regainable") }
        }
    }
}
