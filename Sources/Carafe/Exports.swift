// `import Carafe` is the one import of a plain app: the framework (`CarafeCore`) plus what only
// a program needs, the command line (`app.run()`: `serve`, `routes`) and the process supervisor.
// Extensions and libraries import `CarafeCore`, so they link no supervisor.
@_exported import CarafeCore
