import CarafeHTTP

extension Request {
    /// The files of a `multipart/form-data` form, in order (Flask's `request.files`); empty for
    /// other requests. See `multipartForm`.
    public var files: [UploadedFile] { self.multipartForm?.files ?? [] }

    /// The first file sent in the field `name`.
    public func file(_ name: String) -> UploadedFile? { self.multipartForm?.file(name) }

    /// A reader of this request's `multipart/form-data` body, part by part as it arrives, for
    /// a route registered with `body: .stream` (see `MultipartReader`). `limits.maxTotalSize`
    /// nil is the app's `maxBodySize`; give `.max` for none. Throws a 415 for another content
    /// type, a 400 for a missing or invalid boundary.
    public func multipartReader(limits: MultipartLimits = MultipartLimits()) throws -> MultipartReader {
        var limits = limits
        limits.maxTotalSize = limits.maxTotalSize ?? self.services.maxBodySize
        if let declared = self.headers.first(name: "content-length").flatMap(Int.init), let limit = limits.maxTotalSize, declared > limit {
            throw MultipartError.bodyTooLarge(limit: limit)
        }
        return try MultipartReader(body: self.bodyStream, contentType: self.headers.first(name: "content-type"), limits: limits)
    }

    /// The parts of this request's `multipart/form-data` body as they arrive (see
    /// `multipartReader(limits:)`).
    public func multipartParts(limits: MultipartLimits = MultipartLimits()) throws -> MultipartParts {
        MultipartParts(reader: try self.multipartReader(limits: limits))
    }

    /// Reads the body as `strategy` says, before the hooks run: collected (a multipart form
    /// parsed as it arrives, files spooled), a multipart form required, or left to the handler.
    func readBody(_ strategy: RequestBodyStrategy) async throws {
        switch strategy {
        case .stream:
            return
        case .collect where self.mediaType == "multipart/form-data":
            try await self.collectMultipart(MultipartLimits(maxTotalSize: self.services.maxBodySize))
        case .collect:
            try await self.collectBody(upTo: self.services.maxBodySize)
        case .multipart(let limits):
            try await self.collectMultipart(limits)
        }
    }

    private func collectMultipart(_ limits: MultipartLimits) async throws {
        let reader = try self.multipartReader(limits: limits)
        let uploads = TemporaryUploads()
        self.temporaryUploads = uploads
        self.multipartForm = try await MultipartForm.collect(
            from: reader,
            limits: limits,
            uploads: uploads,
            pool: self.services.blockingPool
        )
    }

    /// The multipart form for `form` and `decode`: collected before the hooks, or parsed from a
    /// body collected whole (the test client's, a stream route's).
    func multipartFormForDecoding() throws -> MultipartForm {
        if let form = self.multipartForm { return form }
        let form = try MultipartForm.parse(
            self.body,
            contentType: self.headers.first(name: "content-type"),
            limits: MultipartLimits(maxTotalSize: self.services.maxBodySize)
        )
        self.multipartForm = form
        return form
    }

    /// Decodes the multipart form as `T`: text fields as `URLEncodedFormDecoder` does, files
    /// into `UploadedFile` properties. A file input left empty (no name, no bytes) is absent.
    func decodeMultipart<T: Decodable>(_ type: T.Type) throws -> T {
        let form = try self.multipartFormForDecoding()
        var pairs = form.fields
        var table: [String: UploadedFile] = [:]
        for (index, file) in form.files.enumerated() where !(file.filename.isEmpty && file.size == 0) {
            let token = "\u{1}carafe-upload-\(index)"
            pairs.append((file.fieldName, token))
            table[token] = file
        }
        return try UploadedFile.$decoding.withValue(UploadedFile.FileTable(table)) {
            try URLEncodedFormDecoder().decode(T.self, from: pairs)
        }
    }
}
