// The Hummingbird 2 side of scripts/bench-tls: the same two routes as Examples/Hello
// (`/plaintext`, `/json`), served the way a Hummingbird user would serve them.
//
//   MODE=tls     HTTP/1.1 over TLS            (`.tls(.http1(), tlsConfiguration:)`)
//   MODE=tls-h2  h2 over TLS, ALPN, h1 too    (`.http2Upgrade(tlsConfiguration:)`)
//   MODE=h2c     prior-knowledge h2c          (`.plaintextHTTP2()`)
//   PORT         the port on 127.0.0.1 (default 8080)
//   CERT, KEY    PEM files for the TLS modes
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdTLS
import NIOSSL

struct Message: ResponseEncodable {
    let message: String
}

let environment = ProcessInfo.processInfo.environment
let mode = environment["MODE"] ?? "tls-h2"
let port = Int(environment["PORT"] ?? "") ?? 8080

func tlsConfiguration() throws -> TLSConfiguration {
    guard let cert = environment["CERT"], let key = environment["KEY"] else {
        fatalError("MODE=\(mode) needs CERT and KEY (PEM files)")
    }
    return TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
    )
}

let router = Router()
router.get("/plaintext") { _, _ -> String in "Hello, World!" }
router.get("/json") { _, _ in Message(message: "Hello, World!") }

let server: HTTPServerBuilder
switch mode {
case "tls": server = try .tls(.http1(), tlsConfiguration: try tlsConfiguration())
case "tls-h2": server = try .http2Upgrade(tlsConfiguration: try tlsConfiguration())
case "h2c": server = .plaintextHTTP2()
default: fatalError("MODE must be tls, tls-h2 or h2c, not \(mode)")
}

let app = Application(
    router: router,
    server: server,
    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "Hummingbird")
)
try await app.runService()
