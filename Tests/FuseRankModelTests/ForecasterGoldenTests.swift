import FuseRankTestSupport
import Foundation
import Testing
@testable import FuseRankModel

/// Parity with the PyTorch forecaster: every case of every forecaster fixture set (day and week
/// periods), within 1e-4 (absolute, or relative above 1) on every mean and quantile; all cases of
/// a set forecast together, then each alone.
@Suite struct ForecasterGoldenTests {
    @Test func fixtureSetsExist() {
        let names = ForecastCaseFile.sets.map(\.lastPathComponent)
        #expect(names.contains("forecaster") && names.contains("forecaster-week"), "forecaster sets: \(names)")
    }

    @Test(arguments: ForecastCaseFile.sets)
    func casesMatchPyTorch(_ set: URL) throws {
        let file = try ForecastCaseFile.load(set)
        let contents = try BundleContents(path: set.path)
        let bundle = try #require(contents.forecaster)
        #expect(contents.recommender == nil, "a forecaster-only bundle")
        let forecaster = Forecaster(bundle: bundle)
        #expect(file.cases.count >= 5)
        var worst: Float = 0
        for c in file.cases {
            let query = try bundle.validate(
                ForecastQuery(series: [ForecastSeries(startMs: c.startMs, values: c.series)], horizon: c.horizon, quantiles: c.quantiles))
            #expect(query.levels == c.quantilesOut.map(\.quantile), "item \(c.itemId): levels")
            for single in [forecaster.forecast(query)[0], Forecaster(bundle: bundle, maxSeries: 1).forecast(query)[0]] {
                #expect(single.mean.count == c.mean.count)
                for (period, (got, want)) in zip(single.mean, c.mean).enumerated() {
                    #expect(ForecastCaseFile.close(got, want), "item \(c.itemId) mean[\(period)]: \(got), PyTorch \(want)")
                    worst = max(worst, abs(got - want) / max(1, abs(want)))
                }
                for (level, reference) in zip(single.quantiles, c.quantilesOut) {
                    #expect(level.count == reference.values.count)
                    for (period, (got, want)) in zip(level, reference.values).enumerated() {
                        #expect(ForecastCaseFile.close(got, want),
                                "item \(c.itemId) q\(reference.quantile)[\(period)]: \(got), PyTorch \(want)")
                        worst = max(worst, abs(got - want) / max(1, abs(want)))
                    }
                }
            }
        }
        // All of the set's series together (the same horizon and levels for all: the largest
        // horizon, the default levels), against the cases run alone.
        let horizon = file.cases.map(\.horizon).max()!
        let all = try bundle.validate(ForecastQuery(
            series: file.cases.map { ForecastSeries(startMs: $0.startMs, values: $0.series) }, horizon: horizon))
        let together = forecaster.forecast(all)
        for (c, result) in zip(file.cases, together) {
            let alone = forecaster.forecast(try bundle.validate(
                ForecastQuery(series: [ForecastSeries(startMs: c.startMs, values: c.series)], horizon: horizon)))[0]
            #expect(zip(result.mean, alone.mean).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "item \(c.itemId)")
        }
        print("forecaster parity on \(set.lastPathComponent): \(file.cases.count) series, max error \(worst)")
    }

    /// The shipped `models/online-retail-forecast` on 40 real items' daily series
    /// (`Tests/Fixtures/parity/online-retail-forecast.json`, `python -m fuserank.forecast.fixtures
    /// --shipped`): every mean and quantile within 1e-4 of PyTorch, the series run together.
    @Test func shippedBundleMatchesPyTorch() throws {
        let repo = GoldenCaseFile.root.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try ForecastCaseFile.load(file: repo.appendingPathComponent("Tests/Fixtures/parity/online-retail-forecast.json"))
        let bundle = try #require(try BundleContents(path: repo.appendingPathComponent("models/online-retail-forecast").path).forecaster)
        #expect(file.cases.count == 40)
        let forecaster = Forecaster(bundle: bundle)
        var worst: Float = 0
        for levels in [[], [0.1, 0.5, 0.9]] as [[Float]] {
            let cases = file.cases.filter { $0.quantiles == levels }
            #expect(!cases.isEmpty)
            let query = try bundle.validate(ForecastQuery(
                series: cases.map { ForecastSeries(startMs: $0.startMs, values: $0.series) }, horizon: 28, quantiles: levels))
            for (c, got) in zip(cases, forecaster.forecast(query)) {
                for (a, b) in zip(got.mean, c.mean) {
                    #expect(ForecastCaseFile.close(a, b), "item \(c.itemId) mean: \(a), PyTorch \(b)")
                    worst = max(worst, abs(a - b) / max(1, abs(b)))
                }
                for (level, reference) in zip(got.quantiles, c.quantilesOut) {
                    for (a, b) in zip(level, reference.values) {
                        #expect(ForecastCaseFile.close(a, b), "item \(c.itemId) q\(reference.quantile): \(a), PyTorch \(b)")
                        worst = max(worst, abs(a - b) / max(1, abs(b)))
                    }
                }
            }
        }
        print("shipped forecaster parity: \(file.cases.count) series, max error \(worst)")
    }
}
