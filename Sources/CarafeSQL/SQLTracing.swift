import Tracing

/// Database statements as client spans, children of the span that runs them (a request's, see
/// `RequestTracing`), named by the statement's first keyword (`SELECT`), with OpenTelemetry's
/// database attributes: `db.system.name`, `db.operation.name` and `db.query.text`, the text with
/// its placeholders (`$1`, `?`), never the bound values.
///
/// A statement outside any span (a migration at start-up, a background job that made none)
/// starts no trace of its own, and without a tracer nothing is done: the check is one task-local
/// read.
enum SQLTracing {
    static func traced<T>(_ statements: [SQL], _ dialect: SQLDialect, _ body: () async throws -> T) async throws -> T {
        guard ServiceContext.current != nil, let first = statements.first else { return try await body() }
        let tracer = InstrumentationSystem.tracer
        if tracer is NoOpTracer { return try await body() }
        let operation = Self.operation(of: first, dialect)
        return try await tracer.withSpan(operation, ofKind: .client) { span in
            span.updateAttributes { attributes in
                attributes["db.system.name"] = dialect == .postgres ? "postgresql" : "sqlite"
                attributes["db.operation.name"] = operation
                attributes["db.query.text"] = statements.map { $0.text(for: dialect) }.joined(separator: ";\n")
                if statements.count > 1 { attributes["db.operation.batch.size"] = statements.count }
            }
            return try await body()
        }
    }

    /// The statement's first word, upper-cased: `SELECT`, `INSERT`, `WITH`.
    static func operation(of sql: SQL, _ dialect: SQLDialect) -> String {
        let text = sql.text(for: dialect)
        let word = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "(" }).first ?? "SQL"
        return word.prefix(32).uppercased()
    }
}
