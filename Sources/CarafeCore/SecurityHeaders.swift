/// Response headers that make browsers safer with an app's pages, added to each response that
/// does not set the header itself (`App.securityHeaders`).
///
/// - `X-Content-Type-Options: nosniff`, on every response: a browser keeps to the
///   `Content-Type` given, so an uploaded "image" or a JSON answer is never run as a script or
///   rendered as HTML.
/// - On HTML responses (`text/html`), `X-Frame-Options: SAMEORIGIN` and
///   `Content-Security-Policy: frame-ancestors 'self'`: only the app's own pages may frame its
///   pages, so another site cannot overlay its forms (clickjacking). A response that sets its own
///   `Content-Security-Policy` keeps it as it is.
///
/// Set a field to nil to leave that header out, or use `.none`; a page meant to be embedded
/// elsewhere sets its own `Content-Security-Policy: frame-ancestors …`.
public struct SecurityHeaders: Sendable, Hashable {
    /// `X-Content-Type-Options` on every response; nil for none.
    public var contentTypeOptions: String?
    /// `X-Frame-Options` on HTML responses (`DENY` or `SAMEORIGIN`); nil for none.
    public var frameOptions: String?
    /// The sources of `Content-Security-Policy: frame-ancestors …` on HTML responses
    /// (`'self'`, `'none'`, `https://partner.example`); nil for none.
    public var frameAncestors: String?

    public init(contentTypeOptions: String? = "nosniff", frameOptions: String? = "SAMEORIGIN", frameAncestors: String? = "'self'") {
        self.contentTypeOptions = contentTypeOptions
        self.frameOptions = frameOptions
        self.frameAncestors = frameAncestors
    }

    /// No header added.
    public static let none = SecurityHeaders(contentTypeOptions: nil, frameOptions: nil, frameAncestors: nil)

    /// Adds the headers `headers` lacks.
    func apply(to headers: inout HTTPHeaders) {
        if let value = self.contentTypeOptions, !headers.contains(name: "x-content-type-options") {
            headers.add(name: "x-content-type-options", value: value)
        }
        guard self.frameOptions != nil || self.frameAncestors != nil,
            let type = headers.first(name: "content-type"), type.utf8.prefix(9).lazy.map({ (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }).elementsEqual("text/html".utf8)
        else { return }
        if let value = self.frameOptions, !headers.contains(name: "x-frame-options") {
            headers.add(name: "x-frame-options", value: value)
        }
        if let value = self.frameAncestors, !headers.contains(name: "content-security-policy") {
            headers.add(name: "content-security-policy", value: "frame-ancestors \(value)")
        }
    }
}
