import ArgumentParser
import Foundation

/// The command line of a Carafe app.
struct CarafeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: (CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent }) ?? "app",
        abstract: "A Carafe web application.",
        subcommands: [ServeCommand.self, RoutesCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Serve the app over HTTP.")

    @OptionGroup var options: ServeOptions
    @OptionGroup var config: ConfigOptions
}

/// Where `serve`'s flags and the app's settings come from besides the command line.
struct ConfigOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "A JSON file of settings: the app's (app.config), and serve's flags in its \"serve\" object. (default: $CARAFE_CONFIG) Every flag is also read from CARAFE_<FLAG>; see docs/configuration.md.",
            valueName: "file"
        )
    )
    var config: String?

    @Flag(help: "Print each of serve's flags and the app's settings with its value and where it came from (secrets masked), and exit.")
    var printConfig = false
}

struct RoutesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routes", abstract: "Print the route table, and where each route runs.")

    @Option(
        name: [.customShort("k"), .long],
        help: "Show where routes run under this worker class: async or threads. (default: the app's, async unless set in code)"
    )
    var workerClass: WorkerClass?
}
