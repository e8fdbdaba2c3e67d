// Routes that misbehave on purpose, for the supervisor's tests: never deploy this.
import Carafe
import Foundation

#if canImport(Glibc)
import Glibc
#endif

// For the test of workers that keep failing to boot: a worker (never the master) traps at once.
if getenv("PROBE_WORKERS_TRAP_AT_BOOT") != nil, getenv("CARAFE_WORKER") != nil {
    fatalError("PROBE_WORKERS_TRAP_AT_BOOT is set")
}

let app = App()

app.get("/plaintext") { _ in "Hello, World!" }

// The pid of the worker that served the request.
app.get("/pid") { _ in "\(getpid())" }

// Waits `ms` milliseconds without blocking the loop: a request that is in flight for a while.
app.get("/io") { req in
    let ms = try req.query.get("ms", as: Int.self) ?? 20
    try await Task.sleep(for: .milliseconds(ms))
    return "ok"
}

// Blocks the event loop's thread for `s` seconds: the worker stops heartbeating.
app.get("/block") { req in
    let seconds = try req.query.get("s", as: Int.self) ?? 3600
    sleep(UInt32(seconds))
    return "unblocked"
}

// Blocks whatever thread it runs on for `ms` milliseconds (a synchronous SDK's call, say) and
// answers that thread's name: an event loop's under `--worker-class async`, a pool thread's
// (`TP-#n`) under `threads`. It does not say `blocking:`, so the worker class decides.
app.get("/sleep") { req in
    let ms = try req.query.get("ms", as: Int.self) ?? 200
    usleep(useconds_t(ms * 1000))
    return threadName()
}

// The same, marked `blocking: false`: on the event loop whatever the worker class.
app.get("/sleep-on-loop", blocking: false) { req in
    let ms = try req.query.get("ms", as: Int.self) ?? 200
    usleep(useconds_t(ms * 1000))
    return threadName()
}

/// The current thread's name as the kernel knows it (NIO names its pool's threads `TP-#n`).
func threadName() -> String {
    let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
    return comm.trimmingCharacters(in: .newlines)
}

// Traps, as a force unwrap of nil or an overflow would: the whole process dies.
app.get("/crash") { _ -> String in
    fatalError("the /crash route traps on purpose")
}

try await app.run()
