extension App {
    /// Runs `hook` for every request that matched a route, before its body is read (collected,
    /// parsed as a form, or handed to a streaming handler): where a body transformation goes,
    /// such as `CarafeCompression`'s request decompression (`Request.replaceBodyStream`). A hook
    /// that throws answers the request with that error.
    public func beforeBody(_ hook: @escaping @Sendable (Request) throws -> Void) {
        self.blueprint.register("a before-body hook") { $0.hooks.beforeBody.append(hook) }
    }
}

extension Request {
    /// Replaces the body the route will read (from a `beforeBody` hook): `body` is then read
    /// instead of the client's bytes.
    public func replaceBodyStream(with body: RequestBody) {
        self.bodyStream = body
    }
}
