import CarafeHTTP
import Foundation
import NIOPosix

extension RouteBuilder {
    /// Serves the files under `directory` at `prefix/…` (Flask's static folder):
    ///
    ///     app.static("/static", directory: "Public")      // GET /static/css/site.css
    ///
    /// Files are streamed from the blocking thread pool in 64 KiB reads, so memory stays flat and
    /// the event loop never waits on the disk. Responses carry `Content-Type` (by extension),
    /// `Content-Length`, `ETag`, `Last-Modified` and `Accept-Ranges: bytes`. Conditional GETs
    /// (`If-None-Match`, `If-Modified-Since`) get 304, and a single `Range` gets 206, or 416 if it
    /// cannot be satisfied. HEAD is answered too. A path that leaves the directory, by `..`
    /// (escaped or not) or by a symbolic link pointing out, gets 404, as does a directory or a
    /// missing file.
    ///
    /// Behind nginx, `offload:` hands the sending to nginx (Flask's `USE_X_SENDFILE`): Carafe
    /// still checks the path (404s as above) and answers with an empty body and a header
    /// naming the file, and nginx sends it, Range and conditional requests included:
    ///
    ///     app.static("/static", directory: "Public", offload: .accelRedirect("/_static/"))
    ///     // nginx: location /_static/ { internal; alias /srv/app/Public/; }
    @discardableResult
    public func `static`(_ prefix: String, directory: String, name: String? = nil, offload: FileOffload? = nil) -> Self {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        return self.get(prefix + "/*path", name: name) { request in
            try await StaticFile.respond(to: request, root: root, offload: offload)
        }
    }
}

/// How a front server sends files for Carafe (see `RouteBuilder.static(_:directory:offload:)`).
public enum FileOffload: Sendable, Hashable {
    /// nginx: `X-Accel-Redirect: LOCATION/relative/path`, where LOCATION is an `internal`
    /// location of nginx whose `alias` is the directory, e.g. `/_static/`.
    case accelRedirect(String)
    /// Apache's mod_xsendfile, lighttpd: `X-Sendfile: /absolute/path/of/the/file`.
    case sendfile
}

/// The file behind a static request, and the response for it.
enum StaticFile {
    static let chunkSize = 64 * 1024

    static func respond(to request: Request, root: String, offload: FileOffload? = nil) async throws -> Response {
        let notFound = HTTPError(.notFound, "No file at \(request.path).")
        let relative = request.parameters["path"] ?? ""
        let components = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." || $0.contains("\0") }) else { throw notFound }
        // Symbolic links may point anywhere: resolve, then insist on staying under the root.
        guard let resolvedRoot = realPath(root), let path = realPath(root + "/" + relative),
            path.hasPrefix(resolvedRoot == "/" ? "/" : resolvedRoot + "/")
        else { throw notFound }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw notFound }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw notFound
        }
        if let offload {
            close(fd)
            var headers: HTTPHeaders = ["content-type": contentType(of: path)]
            switch offload {
            case .accelRedirect(let location):
                let base = location.hasSuffix("/") ? location : location + "/"
                let encoded = components.map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? String($0) }
                headers.add(name: "x-accel-redirect", value: base + encoded.joined(separator: "/"))
            case .sendfile:
                headers.add(name: "x-sendfile", value: path)
            }
            return Response(status: .ok, headers: headers)
        }
        return Self.serve(fd, info, contentType: contentType(of: path), request: request)
    }

    /// The response for the open regular file `fd` (which it closes): ETag, Last-Modified,
    /// 304, a single Range (206, 416), HEAD, then the bytes from the thread pool. Shared by
    /// static files and `Response.file(at:)`.
    static func serve(_ fd: Int32, _ info: stat, contentType: String, request: Request, extraHeaders: HTTPHeaders = [:]) -> Response {
        let size = Int(info.st_size)
        let modified = Int(info.st_mtim.tv_sec)
        let etag = "\"\(String(size, radix: 16))-\(String(modified, radix: 16))-\(String(info.st_mtim.tv_nsec, radix: 16))\""
        var headers: HTTPHeaders = [
            "etag": etag,
            "last-modified": HTTPDate.format(modified),
            "accept-ranges": "bytes",
        ]
        headers.add(contentsOf: extraHeaders)
        if notModified(request.headers, etag: etag, modified: modified) {
            close(fd)
            return Response(status: .notModified, headers: headers)
        }
        var status = HTTPStatus.ok
        var range = 0..<size
        if let header = request.headers.first(name: "range"), ifRangeAllows(request.headers, etag: etag) {
            switch ByteRange(header, size: size) {
            case .some(.satisfiable(let requested)):
                status = .partialContent
                range = requested
                headers.add(name: "content-range", value: "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)")
            case .some(.unsatisfiable):
                close(fd)
                headers.add(name: "content-range", value: "bytes */\(size)")
                return Response(status: .rangeNotSatisfiable, headers: headers)
            case .none:
                break  // not a single byte range we understand: the whole file, as RFC 9110 allows
            }
        }
        headers.add(name: "content-type", value: contentType)
        if request.method == .HEAD {
            close(fd)
            return Response(status: status, headers: headers, body: .stream(length: range.count) { _ in })
        }
        let pool = request.services.blockingPool
        let descriptor = FileDescriptor(fd)
        let bytes = range
        return Response(
            status: status,
            headers: headers,
            body: .stream(length: bytes.count) { writer in
                defer { descriptor.close() }
                var offset = bytes.lowerBound
                while offset < bytes.upperBound {
                    let (count, at) = (min(Self.chunkSize, bytes.upperBound - offset), offset)
                    let chunk = try await pool.runIfActive { try descriptor.read(count, at: at) }
                    try await writer.write(chunk)
                    offset += chunk.readableBytes
                }
            }
        )
    }

    /// `If-None-Match` (which wins when present) or `If-Modified-Since` says the client's copy is current.
    static func notModified(_ headers: HTTPHeaders, etag: String, modified: Int) -> Bool {
        let matches = headers[canonicalForm: "if-none-match"]
        if !matches.isEmpty {
            return matches.contains { $0 == "*" || $0 == etag || $0 == "W/" + etag }
        }
        guard let since = headers.first(name: "if-modified-since").flatMap(HTTPDate.parse) else { return false }
        return modified <= since
    }

    /// `If-Range` absent, or naming this very version: the range applies.
    static func ifRangeAllows(_ headers: HTTPHeaders, etag: String) -> Bool {
        guard let condition = headers.first(name: "if-range") else { return true }
        return condition == etag
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func contentType(of path: String) -> String {
        let ext = path.split(separator: ".").last.map { $0.lowercased() } ?? ""
        return types[ext] ?? "application/octet-stream"
    }

    static let types: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8", "json": "application/json",
        "txt": "text/plain; charset=utf-8", "csv": "text/csv; charset=utf-8", "xml": "application/xml",
        "svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "webp": "image/webp", "ico": "image/x-icon", "avif": "image/avif", "woff": "font/woff", "woff2": "font/woff2",
        "ttf": "font/ttf", "otf": "font/otf", "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip",
        "wasm": "application/wasm", "mp4": "video/mp4", "webm": "video/webm", "mp3": "audio/mpeg", "ogg": "audio/ogg",
        "wav": "audio/wav", "map": "application/json",
    ]
}

/// An open file that a streamed response reads from the thread pool and closes once.
final class FileDescriptor: @unchecked Sendable {
    private let fd: Int32

    init(_ fd: Int32) {
        self.fd = fd
    }

    /// Up to `count` bytes at `offset`; throws if the file ends early (it shrank meanwhile).
    func read(_ count: Int, at offset: Int) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
            pread(self.fd, bytes.baseAddress, count, off_t(offset))
        }
        guard read > 0 else { throw HTTPBodyError.connectionClosed }
        return buffer
    }

    func close() {
        _ = Glibc.close(self.fd)
    }
}
