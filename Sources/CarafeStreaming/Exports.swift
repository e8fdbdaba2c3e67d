// The broadcast hub is a module of its own, which the PostgreSQL backplane needs without the
// framework; an app that streams gets it with `import CarafeStreaming`.
@_exported import CarafeBroadcast
