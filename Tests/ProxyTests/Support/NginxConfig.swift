import Foundation
import ProcessTestSupport
import Synchronization

/// The nginx configuration of docs/nginx.md, for tests: the contents of an `http` block that
/// proxies `listen` to the Carafe servers `upstreams` (`unix:/path` or `127.0.0.1:PORT`).
enum NginxConfig {
    static func http(listen: [String], upstreams: [String], staticDirectory: String? = nil, extraUpstream: String = "") -> String {
        """
        map $http_upgrade $connection_upgrade {
            default upgrade;
            ''      '';
        }
        upstream carafe {
            \(upstreams.map { "server \($0) max_fails=0;" }.joined(separator: "\n    "))
            \(extraUpstream)
            keepalive 16;
        }
        server {
            \(listen.map { "listen \($0);" }.joined(separator: "\n    "))
            client_max_body_size 1m;

            location / {
                \(self.proxyParameters)
            }
            location /upload {
                \(self.proxyParameters)
                proxy_request_buffering off;
                client_max_body_size 100m;
            }
            location /app/ {
                \(self.proxyParameters.replacingOccurrences(of: "http://carafe;", with: "http://carafe/;"))
                proxy_set_header X-Forwarded-Prefix /app;
            }
            \(staticDirectory.map { "location /_static/ { internal; alias \($0)/; }" } ?? "")
        }
        """
    }

    /// docs/nginx.md's `carafe_proxy.conf`. (A location that sets any `proxy_set_header` of its
    /// own inherits none from the server block, so each location includes them all.)
    static let proxyParameters = """
        proxy_pass http://carafe;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header Forwarded "";
            proxy_set_header X-Forwarded-Prefix "";
            proxy_set_header X-Real-IP "";
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 60s;
            proxy_next_upstream error timeout http_502 http_503 http_504;
        """
}

/// A fresh temporary directory for a test's sockets and files, removed when the test process exits.
func testDirectory() throws -> URL {
    let url = try makeTemporaryDirectory("carafe-proxy-test")
    testDirectories.withLock { directories in
        if directories.isEmpty { atexit { testDirectories.withLock { $0.forEach { try? FileManager.default.removeItem(at: $0) } } } }
        directories.append(url)
    }
    return url
}

private let testDirectories = Mutex<[URL]>([])
