extension Blueprint {
    /// The blueprints whose prefixes `segments` (a request path) falls under, from this one
    /// down: for what applies to a request no route matched (its CORS policy, its error format).
    func chain(matching segments: ArraySlice<String>) -> [Blueprint] {
        var best: (Blueprint, ArraySlice<String>)?
        for child in self.children {
            guard let rest = child.prefix.strip(from: segments) else { continue }
            if best == nil || rest.count < best!.1.count { best = (child, rest) }
        }
        guard let (child, rest) = best else { return [self] }
        return [self] + child.chain(matching: rest)
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
