import ArgumentParser

/// `fuserank`: call a FuseRank server from the command line.
@main
struct FuseRankCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuserank",
        abstract: "Call a FuseRank server: rank items, forecast demand, check health, describe a model, reload models; make CURVE keys.",
        discussion: """
            Exit status: 0 on success; 1 when a call fails (stderr says `error: CODE: message` with \
            the gRPC status code name); 2 when `health` reports the server not ready; 64 on a usage error.
            """,
        subcommands: [RankCommand.self, ForecastCommand.self, HealthCommand.self, InfoCommand.self, BenchCommand.self, ReloadCommand.self, UpsertCommand.self,
                      HideCommand.self, ShowCommand.self, KeygenCommand.self]
    )
}
