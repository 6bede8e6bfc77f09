import Foundation
import Testing

@testable import FuseRankClient
@testable import fuserank

/// `fuserank forecast`: its input format, its table, and the real binaries end to end (the real
/// server serving the golden forecaster).
@Suite(.serialized) struct ForecastCLITests {
    @Test func seriesInputParsesMsDatesAndMissingValues() throws {
        let series = try SeriesInput.parse("""
            item_id,start,values
            # a comment, then a blank line

            85123,2024-01-01,3 0 nan 12.5 -
            -4, 1704067200000 , 1;2;3
            """)
        #expect(series == [
            SeriesHistory(itemID: 85123, startMs: 1_704_067_200_000, values: [3, 0, .nan, 12.5, .nan]),
            SeriesHistory(itemID: -4, startMs: 1_704_067_200_000, values: [1, 2, 3]),
        ])
        #expect(SeriesInput.startMs("2024-02-30") == nil)
        #expect(SeriesInput.startMs("1970-01-02") == 86_400_000)
        #expect(throws: SeriesInput.ParseError.self) { try SeriesInput.parse("1,2024-01-01") }
        do {
            _ = try SeriesInput.parse("1,2024-01-01,1 2\n2,yesterday,3")
            Issue.record("a bad start must not parse")
        } catch {
            #expect(error.description == "line 2: \"yesterday\" is neither Unix ms nor a date YYYY-MM-DD")
        }
        do {
            _ = try SeriesInput.parse("1,0,1 inf")
            Issue.record("an infinite value must not parse")
        } catch {
            #expect(error.description.hasPrefix("line 1: \"inf\" is not a value"))
        }
    }

    @Test func tableHasARowPerItemAndPeriod() throws {
        let forecasts = [
            SeriesForecast(itemID: 85123, mean: [2.5, 0], quantiles: [
                QuantileValues(quantile: 0.1, values: [0.25, 0]), QuantileValues(quantile: 0.975, values: [6, 0]),
            ]),
            SeriesForecast(itemID: -4, mean: [10, 11.125], quantiles: [
                QuantileValues(quantile: 0.1, values: [1, 2]), QuantileValues(quantile: 0.975, values: [30, 31]),
            ]),
        ]
        #expect(ForecastOutput.table(forecasts, model: "shop") == """
            model shop, 2 series, horizon 2
            item_id  period     mean    q0.1   q0.975
              85123       1   2.5000  0.2500   6.0000
              85123       2   0.0000  0.0000   0.0000
                 -4       1  10.0000  1.0000  30.0000
                 -4       2  11.1250  2.0000  31.0000

            """)
        #expect(try ForecastOutput.json([forecasts[1]])
            == #"{"forecasts":[{"item_id":-4,"mean":[10,11.125],"quantiles":[{"quantile":0.10000000149011612,"values":[1,2]},{"quantile":0.9750000238418579,"values":[30,31]}]}]}"# + "\n")
    }

    /// The client and the CLI against the real server serving the golden forecaster alone.
    @Test func forecastFromTheRealServer() async throws {
        let server = try ServerProcess(model: "Tests/Fixtures/golden/forecaster")
        let client = try FuseRankClient(endpoint: server.endpoint, options: FuseRankClientOptions(timeoutMs: 5000))
        let series = [
            SeriesHistory(itemID: 7, startMs: 1_291_161_600_000, values: [4, 0, 9.5, .nan, 12]),
            SeriesHistory(itemID: 3, values: [1]),
        ]
        let forecasts = try await client.forecast(series, horizon: 5, quantiles: [0.25, 0.9])
        #expect(forecasts.map(\.itemID) == [7, 3])
        #expect(forecasts.allSatisfy { $0.mean.count == 5 && $0.quantiles.map(\.quantile) == [0.25, 0.9] })
        let tooFar = await #expect(throws: FuseRankClientError.self) { try await client.forecast(series, horizon: 99) }
        #expect(tooFar?.code == .invalidArgument)
        #expect(tooFar?.message == "horizon is 99, the model forecasts 1...14 periods")
        let rank = await #expect(throws: FuseRankClientError.self) { try await client.rank(topK: 3) }
        #expect(rank?.code == .failedPrecondition)
        client.close()

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-series-\(UUID().uuidString).csv").path
        try "item_id,start,values\n7,2010-12-01,4 0 9.5 nan 12\n3,0,1\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try FuseRankCLITests().runCLI([
            "forecast", "--endpoint", server.endpoint, "--input", file, "--horizon", "5", "--quantiles", "0.25,0.9",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first == "model (default), 2 series, horizon 5")
        #expect(lines.count == 2 + 10)
        #expect(lines[1].split(separator: " ") == ["item_id", "period", "mean", "q0.25", "q0.9"])
        let first = lines[2].split(separator: " ").map(String.init)
        #expect(first[0] == "7" && first[1] == "1")
        #expect(abs(Float(first[2])! - forecasts[0].mean[0]) < 1e-4)
        let bad = try FuseRankCLITests().runCLI(["forecast", "--endpoint", server.endpoint, "--input", file, "--horizon", "0"])
        #expect(bad.status == 64)
        #expect(server.terminate() == 0)
    }
}
