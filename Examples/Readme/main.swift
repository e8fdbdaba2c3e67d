import Carafe

struct Greeting: Content {
    let message: String
}

let app = App()
app.get("/") { _ in "Hello, World!" }
app.get("/hello/:name") { req in Greeting(message: "Hello, \(req.parameters["name"] ?? "stranger")!") }
app.post("/echo") { req in try req.decode(Greeting.self) }

try await app.run()  // `serve --bind 127.0.0.1:8000`, `routes`, `--help`
