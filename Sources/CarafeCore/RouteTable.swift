/// The app's routes once it starts serving: a trie of path segments for matching, and the
/// named routes for `url(for:)`. Immutable.
final class RouteTable: Sendable {
    enum Match {
        case found(Route, Parameters)
        /// The path exists, with other methods: these.
        case methodNotAllowed([String])
        case notFound
    }

    private final class Node: @unchecked Sendable {  // mutated only while the table is built
        var literals: [String: Node] = [:]
        var parameter: Node?
        var catchAll: Node?
        /// Routes ending here, by method.
        var routes: [String: Route] = [:]
    }

    private let root = Node()
    /// Every route in registration order, for the `routes` command.
    let all: [Route]
    private let named: [String: Route]

    /// The app's own hooks and error handlers: they apply to requests that match no route too.
    let rootHooks: Blueprint.Hooks
    /// The hooks that apply to a request no route matched: the app's alone (made once, not per request).
    let rootChain: [Blueprint.Hooks]

    init(_ routes: [Route], root rootHooks: Blueprint.Hooks = Blueprint.Hooks()) {
        self.rootHooks = rootHooks
        self.rootChain = [rootHooks]
        var named: [String: Route] = [:]
        for route in routes {
            var node = self.root
            for segment in route.pattern.segments {
                switch segment {
                case .literal(let text):
                    node =
                        node.literals[text]
                        ?? {
                            let child = Node()
                            node.literals[text] = child
                            return child
                        }()
                case .parameter:
                    node =
                        node.parameter
                        ?? {
                            let child = Node()
                            node.parameter = child
                            return child
                        }()
                case .catchAll:
                    node =
                        node.catchAll
                        ?? {
                            let child = Node()
                            node.catchAll = child
                            return child
                        }()
                }
            }
            precondition(
                node.routes[route.method.rawValue] == nil,
                "two routes for \(route.method.rawValue) \(route.pattern): \(node.routes[route.method.rawValue]!.pattern) was registered first"
            )
            node.routes[route.method.rawValue] = route
            if let name = route.name {
                precondition(named[name] == nil, "two routes named '\(name)': \(route.pattern) and \(named[name]!.pattern)")
                named[name] = route
            }
        }
        self.all = routes
        self.named = named
    }

    /// The route for `method` and the percent-decoded path segments, with its parameters.
    /// `HEAD` falls back to `GET`. A path that matches a route of another method only is a
    /// 405, unless a less specific pattern has a route for this method.
    func match(_ method: HTTPMethod, _ segments: [String]) -> Match {
        var values: [String] = []
        if let node = Self.find(self.root, segments, 0, &values, where: { Self.route(of: $0, for: method) != nil }),
            let found = Self.route(of: node, for: method)
        {
            var parameters = Parameters(kind: "path parameter")
            for (name, value) in zip(found.pattern.parameterNames, values) {
                parameters.append(name, value)
            }
            return .found(found, parameters)
        }
        values.removeAll()
        guard let node = Self.find(self.root, segments, 0, &values, where: { !$0.routes.isEmpty }) else { return .notFound }
        var allowed = Set(node.routes.keys)
        if allowed.contains("GET") { allowed.insert("HEAD") }
        allowed.insert("OPTIONS")
        return .methodNotAllowed(allowed.sorted())
    }

    /// The route of `node` that answers `method` (`HEAD` falls back to `GET`).
    private static func route(of node: Node, for method: HTTPMethod) -> Route? {
        node.routes[method.rawValue] ?? (method == .HEAD ? node.routes["GET"] : nil)
    }

    /// Depth-first, the first node that `accepts` and matches every segment: a literal beats a
    /// parameter, which beats a catch-all.
    private static func find(
        _ node: Node,
        _ segments: [String],
        _ index: Int,
        _ values: inout [String],
        where accepts: (Node) -> Bool
    ) -> Node? {
        if index == segments.count {
            return accepts(node) ? node : nil
        }
        let segment = segments[index]
        if let child = node.literals[segment], let found = find(child, segments, index + 1, &values, where: accepts) {
            return found
        }
        if let child = node.parameter {
            values.append(segment)
            if let found = find(child, segments, index + 1, &values, where: accepts) { return found }
            values.removeLast()
        }
        if let child = node.catchAll, accepts(child) {
            values.append(segments[index...].joined(separator: "/"))
            return child
        }
        return nil
    }

    /// The path parameters of the route named `name`, in order, each with whether it is a
    /// catch-all (`*path`); nil when no route has that name. For templates' `url_for`.
    func parameters(ofRoute name: String) -> [(name: String, isCatchAll: Bool)]? {
        guard let route = self.named[name] else { return nil }
        var parameters: [(name: String, isCatchAll: Bool)] = []
        for segment in route.pattern.segments {
            switch segment {
            case .literal: break
            case .parameter(let key): parameters.append((key, false))
            case .catchAll(let key): parameters.append((key, true))
            }
        }
        return parameters
    }

    /// The path of the route named `name` (see `Request.url(for:)`). Parameters the pattern does
    /// not use go to the query string.
    func url(for name: String, _ parameters: [String: String], query: [(String, String)]) throws -> String {
        guard let route = self.named[name] else {
            throw URLBuildError(message: "no route is named '\(name)'")
        }
        var path = ""
        var unused = parameters
        for segment in route.pattern.segments {
            switch segment {
            case .literal(let text):
                path += "/" + URLEncodedForm.escapePathSegment(text)
            case .parameter(let key), .catchAll(let key):
                guard let value = unused.removeValue(forKey: key) else {
                    throw URLBuildError(message: "route '\(name)' (\(route.pattern)) needs the parameter '\(key)'")
                }
                let parts = segment == .parameter(key) ? [Substring(value)] : value.split(separator: "/")
                path += parts.map { "/" + URLEncodedForm.escapePathSegment(String($0)) }.joined()
            }
        }
        let pairs = unused.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) } + query.map { (name: $0.0, value: $0.1) }
        return (path.isEmpty ? "/" : path) + (pairs.isEmpty ? "" : "?" + URLEncodedForm.serialize(pairs))
    }
}

/// `url(for:)` was asked for a route that does not exist, or without a parameter it needs.
public struct URLBuildError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { self.message }
}
