extension RouteTable {
    /// The hooks of the blueprints whose prefixes `segments` (a request path no route matched)
    /// falls under, from the app's down: what applies to it (error handlers, CORS policy,
    /// error format). Found from the routes' own chains, deepest match first.
    func hooksChain(for segments: [String]) -> [Blueprint.Hooks] {
        var best: (depth: Int, route: Route)?
        for route in self.all {
            var rest = segments[...]
            var depth = 0
            // The root (index 0) has no prefix of its own that matters; its children's do.
            for blueprint in route.blueprints.dropFirst() {
                guard let after = blueprint.prefix.strip(from: rest) else { break }
                rest = after
                depth += 1
            }
            if depth > (best?.depth ?? 0) { best = (depth, route) }
        }
        guard let best else { return self.rootChain }
        return Array(best.route.hooks.prefix(best.depth + 1))
    }
}

extension RoutePattern {
    /// `segments` after this pattern as a prefix, or nil if they do not start with it.
    func strip(from segments: ArraySlice<String>) -> ArraySlice<String>? {
        var rest = segments
        for segment in self.segments {
            switch segment {
            case .literal(let text):
                guard rest.first == text else { return nil }
            case .parameter:
                guard !rest.isEmpty else { return nil }
            case .catchAll:
                return rest.isEmpty ? nil : []
            }
            rest = rest.dropFirst()
        }
        return rest
    }
}
