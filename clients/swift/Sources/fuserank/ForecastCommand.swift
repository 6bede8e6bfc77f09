import ArgumentParser
import Foundation
import FuseRankClient

/// `fuserank forecast`: forecast the demand of series read from a file (or stdin); prints a
/// table by item and period, or JSON.
struct ForecastCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Forecast demand: the mean and quantiles of each series' next periods.",
        discussion: """
            Input: one series per line, item_id,start,values: start is Unix ms or a UTC date \
            YYYY-MM-DD (the start of the first value's period), values are the periods' values \
            oldest first, separated by spaces, with nan or - for a missing period. Blank lines, \
            # comments and an item_id header line are skipped. Example: 85123,2024-01-01,3 0 nan 12.5 4
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("The series file; - reads stdin.", valueName: "file"))
    var input: String

    @Option(help: "Periods to forecast (1 ... the model's max_horizon).")
    var horizon: Int32

    @Option(help: ArgumentHelp("Quantile levels in (0, 1), comma-separated; none = the model's default_quantiles.", valueName: "levels"))
    var quantiles: NumberList<Float>?

    @Option(help: "The model name (default: the server's default model).")
    var model = ""

    @Flag(help: "Print the reply as JSON instead of a table.")
    var json = false

    func validate() throws {
        if horizon < 1 { throw ValidationError("--horizon must be at least 1") }
    }

    func run() async throws {
        let text: String
        if input == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: input) else {
                throw ValidationError("cannot read --input \(input)")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        let series: [SeriesHistory]
        do {
            series = try SeriesInput.parse(text)
        } catch {
            throw ValidationError("--input \(input): \(error)")
        }
        try await reportingFailures {
            let client = try connection.makeClient()
            defer { client.close() }
            let forecasts = try await client.forecast(series, horizon: horizon, quantiles: quantiles?.values ?? [], model: model)
            print(json ? try ForecastOutput.json(forecasts) : ForecastOutput.table(forecasts, model: model), terminator: "")
        }
    }
}
