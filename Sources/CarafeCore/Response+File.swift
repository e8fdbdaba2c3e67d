import CarafeHTTP
import Foundation

extension Response {
    /// The file at `path`, for any path the app chooses (Flask's `send_file`), with the same
    /// handling as static files: `ETag`, `Last-Modified`, 304 for a conditional GET, a single
    /// `Range` (206, 416), HEAD, and the bytes streamed from the thread pool in 64 KiB reads.
    ///
    ///     app.get("/reports/:id") { req in
    ///         try Response.file(at: report.path, downloadName: "report-\(id).pdf", for: req)
    ///     }
    ///
    /// - Parameters:
    ///   - downloadName: makes it a download: `Content-Disposition: attachment` with this name
    ///     (an ASCII `filename=` and a UTF-8 `filename*=`, RFC 6266); nil shows it inline.
    ///   - contentType: by default from the extension of `downloadName`, else of `path`.
    /// - Throws: a 404 if there is no regular file at `path`. Never pass a path built from what
    ///   the client sent without checking it (see `secureFilename`, or `static`).
    public static func file(
        at path: String,
        downloadName: String? = nil,
        contentType: String? = nil,
        for request: Request
    ) throws -> Response {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HTTPError(.notFound, "No file for \(request.path).") }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw HTTPError(.notFound, "No file for \(request.path).")
        }
        var headers = HTTPHeaders()
        if let downloadName {
            headers.add(name: "content-disposition", value: Self.attachment(downloadName))
        }
        let type = contentType ?? StaticFile.contentType(of: downloadName ?? path)
        return StaticFile.serve(fd, info, contentType: type, request: request, extraHeaders: headers)
    }

    /// `attachment; filename="…"; filename*=UTF-8''…`: the ASCII name for old clients (non-ASCII,
    /// quotes and backslashes replaced by `_`), the exact one for all others.
    static func attachment(_ name: String) -> String {
        let ascii = String(
            name.unicodeScalars.map { scalar -> Character in
                scalar.isASCII && scalar.value >= 0x20 && scalar != "\"" && scalar != "\\" && scalar.value != 0x7F ? Character(scalar) : "_"
            }
        )
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "!#$&+-.^_`|~")
        let encoded = name.addingPercentEncoding(withAllowedCharacters: allowed) ?? ascii
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }
}
