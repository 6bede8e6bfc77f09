import Foundation
import FuseRankTestSupport
import Testing
@testable import FuseRankModel

/// The forecaster (docs/model-format.md "Forecaster"): tokens against hand-computed cases from the
/// doc, the forward pass against ``ReferenceForecaster`` (1e-4), validation, and loading.
@Suite struct ForecasterTests {
    static let day: Int64 = 86_400_000
    /// 2024-01-01 00:00 UTC, a Monday.
    static let monday: Int64 = 1_704_067_200_000

    static let synthetic = SyntheticForecaster()
    static let bundle = try! synthetic.load()

    /// Series that exercise the rules: short, NaNs, negatives, all missing, all zero, longer than
    /// the context, a start not at midnight, one before 1970.
    static let series: [ForecastSeries] = [
        ForecastSeries(startMs: monday, values: [2, .nan, 4]),
        ForecastSeries(startMs: monday - 40 * day, values: (0..<40).map { Float(($0 * 7) % 5) - 0.5 }),
        ForecastSeries(startMs: monday + 3 * day, values: [.nan, .nan]),
        ForecastSeries(startMs: monday, values: [Float](repeating: 0, count: 30)),
        ForecastSeries(startMs: monday - 100 * day + 3_600_000, values: (0..<100).map { Float($0 % 9) * 3 }),
        ForecastSeries(startMs: -20 * day, values: [1, 2, 3, 40, 5, 6, 7, 8]),
    ]

    /// Window period t of the first series: a Monday with 3 values puts t = 0 on 2023-12-07, a
    /// Thursday. Token 3 covers Dec 28 ... Jan 3 (Thu ... Wed): Sunday (k = 3) is closed, Monday
    /// (k = 4) holds 2, Tuesday NaN, Wednesday 4; s = (2 + 4) / 2 = 3.
    @Test func tokensFollowTheDocOnAHandComputedSeries() {
        let b = Self.bundle
        let c = b.config
        var rows = [Float](repeating: .nan, count: c.tokens * c.features)
        let s = rows.withUnsafeMutableBufferPointer { b.tokens(of: Self.series[0], into: $0.baseAddress!) }
        #expect(s == 3)
        let f = c.features, p = c.patch
        let token3 = Array(rows[(3 * f)..<(4 * f)])
        let expectedPeriods: [Float] = [
            0, 0, 1,  0, 0, 1,  0, 0, 1,  0, 0, 0,  Float(log1p(2.0 / 3)), 1, 1,  0, 0, 1,  Float(log1p(4.0 / 3)), 1, 1,
        ]
        #expect(Array(token3[0..<(3 * p)]) == expectedPeriods)
        #expect(Array(token3[(3 * p)..<(3 * p + 7)]) == [0, 0, 0, 1, 0, 0, 0])  // Thursday
        let days = Double((Self.monday - 4 * Self.day) / Self.day)  // Dec 28
        let phi = days / 365.2425 - (days / 365.2425).rounded(.down)
        #expect(abs(token3[3 * p + 7] - Float(sin(2 * .pi * phi))) < 1e-6)
        #expect(abs(token3[3 * p + 8] - Float(cos(2 * .pi * phi))) < 1e-6)
        #expect(token3[3 * p + 9] == 0)
        #expect(abs(token3[3 * p + 10] - Float(log(3.0))) < 1e-6)
        // Token 0: before the series: nothing observed, open except Sunday (k = 3).
        #expect((0..<p).map { rows[3 * $0 + 1] } == [0, 0, 0, 0, 0, 0, 0])
        #expect((0..<p).map { rows[3 * $0 + 2] } == [1, 1, 1, 0, 1, 1, 1])
        // Token 4: the first future token (Jan 4, a Thursday): future flag 1, nothing observed.
        let token4 = Array(rows[(4 * f)..<(5 * f)])
        #expect(token4[3 * p + 9] == 1)
        #expect((0..<p).allSatisfy { token4[3 * $0] == 0 && token4[3 * $0 + 1] == 0 })
        #expect(token4[3 * p + 3] == 1)
    }

    /// No observed value, or observed zeros only: s = 1, ln s = 0. Negative values count as 0.
    @Test func scaleIsOneWithoutDemandAndClampsNegatives() {
        let b = Self.bundle
        #expect(b.scale(of: Self.series[2]) == 1)
        #expect(b.scale(of: Self.series[3]) == 1)
        #expect(b.scale(of: ForecastSeries(startMs: Self.monday, values: [-5, 3])) == 1.5)
    }

    @Test func weekdaysAgreeWithTheCalendarAcrossTheEpoch() {
        for days in stride(from: Int64(-800), through: 800, by: 37) {
            for offset: Int64 in [0, 1, 43_199_999, 86_399_999] {
                let ms = days * Self.day + offset
                #expect(ForecasterBundle.weekday(ms: ms) == ReferenceForecaster.weekday(ms), "ms \(ms)")
            }
        }
    }

    /// Week periods: no weekday one-hot, every period open.
    @Test func weekPeriodsHaveNoWeekdayAndNeverClose() throws {
        var config = SyntheticForecaster.tinyConfig()
        config.period = .week
        config.periodMs = 7 * Self.day
        config.closedWeekdays = []
        let b = try SyntheticForecaster(config: config).load()
        var rows = [Float](repeating: .nan, count: config.tokens * config.features)
        rows.withUnsafeMutableBufferPointer { _ = b.tokens(of: Self.series[0], into: $0.baseAddress!) }
        for j in 0..<config.tokens {
            let row = Array(rows[(j * config.features)..<((j + 1) * config.features)])
            #expect(row[(3 * config.patch)..<(3 * config.patch + 7)].allSatisfy { $0 == 0 })
            #expect((0..<config.patch).allSatisfy { row[3 * $0 + 2] == 1 })
        }
    }

    /// Every series of one request, run together, against the Double reference: within 1e-4
    /// (absolute, or relative above 1), default levels and levels between, below and above.
    @Test(arguments: [[], [0.5], [0.05, 0.1, 0.3, 0.5, 0.75, 0.9, 0.99]] as [[Float]])
    func forecastMatchesTheReference(levels: [Float]) throws {
        let reference = ReferenceForecaster(f: Self.synthetic)
        let query = try Self.bundle.validate(ForecastQuery(series: Self.series, horizon: 14, quantiles: levels))
        let results = Forecaster(bundle: Self.bundle).forecast(query)
        #expect(results.count == Self.series.count)
        for (series, result) in zip(Self.series, results) {
            let want = reference.forecast(series, horizon: 14, levels: query.levels)
            #expect(result.mean.count == 14)
            #expect(result.quantiles.count == query.levels.count)
            Self.expectClose(result.mean, want.mean)
            for (got, expected) in zip(result.quantiles, want.quantiles) { Self.expectClose(got, expected) }
        }
    }

    static func expectClose(_ got: [Float], _ want: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, sourceLocation: sourceLocation)
        for (g, w) in zip(got, want) {
            #expect(abs(Double(g) - w) <= 1e-4 * max(1, abs(w)), "got \(g), expected \(w)", sourceLocation: sourceLocation)
        }
    }

    /// Passes of 2 series give what one pass of all gives (GEMM row blocking may round
    /// differently, so within float rounding), in request order.
    @Test func passesOfAnySizeAgree() throws {
        let query = try Self.bundle.validate(ForecastQuery(series: Self.series, horizon: 9))
        let whole = Forecaster(bundle: Self.bundle).forecast(query)
        let pairs = Forecaster(bundle: Self.bundle, maxSeries: 2).forecast(query)
        for (a, b) in zip(whole, pairs) {
            #expect(zip(a.mean, b.mean).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) })
            for (qa, qb) in zip(a.quantiles, b.quantiles) {
                #expect(zip(qa, qb).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) })
            }
        }
    }

    /// Closed periods forecast 0; quantiles never cross and are never negative.
    @Test func closedPeriodsAreZeroAndQuantilesDoNotCross() throws {
        let query = try Self.bundle.validate(ForecastQuery(series: Self.series, horizon: 14, quantiles: [0.1, 0.5, 0.9]))
        for (series, result) in zip(Self.series, Forecaster(bundle: Self.bundle).forecast(query)) {
            for period in 0..<14 {
                let start = Self.bundle.windowStartMs(series, period: Self.bundle.config.context + period)
                let values = result.quantiles.map { $0[period] }
                if ReferenceForecaster.weekday(start) == 6 {
                    #expect(result.mean[period] == 0 && values == [0, 0, 0])
                }
                #expect(values[0] >= 0 && values[0] <= values[1] && values[1] <= values[2])
            }
        }
    }

    @Test func interpolationFollowsTheDoc() {
        let levels: [Float] = [0.1, 0.5, 0.9], values: [Float] = [1, 3, 11]
        #expect(Forecaster.interpolate(0.05, levels: levels, values: values) == 1)
        #expect(Forecaster.interpolate(0.1, levels: levels, values: values) == 1)
        #expect(Forecaster.interpolate(0.3, levels: levels, values: values) == 2)
        #expect(Forecaster.interpolate(0.5, levels: levels, values: values) == 3)
        #expect(abs(Forecaster.interpolate(0.8, levels: levels, values: values) - 9) < 1e-5)
        #expect(Forecaster.interpolate(0.99, levels: levels, values: values) == 11)
        #expect(Forecaster.softplus(30) == 30)
        #expect(abs(Forecaster.softplus(0) - Float(log(2.0))) < 1e-7)
    }

    @Test func validationNamesTheField() {
        let b = Self.bundle
        let one = [ForecastSeries(startMs: Self.monday, values: [1])]
        func error(_ query: ForecastQuery) -> ForecastInputError? {
            do { _ = try b.validate(query) } catch { return error }
            return nil
        }
        #expect(error(ForecastQuery(series: [], horizon: 7)) == .noSeries)
        #expect(error(ForecastQuery(series: one, horizon: 0)) == .horizon(0, maxHorizon: 14))
        #expect(error(ForecastQuery(series: one, horizon: 15)) == .horizon(15, maxHorizon: 14))
        #expect(error(ForecastQuery(series: one, horizon: -3)) == .horizon(-3, maxHorizon: 14))
        #expect(error(ForecastQuery(series: one + [ForecastSeries(startMs: 0, values: [])], horizon: 7)) == .emptySeries(index: 1))
        #expect(error(ForecastQuery(series: [ForecastSeries(startMs: 0, values: [1, .infinity])], horizon: 7))
            == .infiniteValue(index: 0, position: 1))
        #expect(error(ForecastQuery(series: [ForecastSeries(startMs: 0, values: [-.infinity])], horizon: 7))
            == .infiniteValue(index: 0, position: 0))
        #expect(error(ForecastQuery(series: one, horizon: 7, quantiles: [0.5, 1])) == .quantile(index: 1, value: 1))
        #expect(error(ForecastQuery(series: one, horizon: 7, quantiles: [0])) == .quantile(index: 0, value: 0))
        if case let .quantile(index, value)? = error(ForecastQuery(series: one, horizon: 7, quantiles: [.nan])) {
            #expect(index == 0 && value.isNaN)
        } else {
            Issue.record("a NaN level must be refused")
        }
        #expect(error(ForecastQuery(series: [ForecastSeries(startMs: .max, values: [1])], horizon: 7))
            == .startMs(index: 0, value: .max))
        let many = [ForecastSeries](repeating: one[0], count: ForecastQuery.maxSeries + 1)
        #expect(error(ForecastQuery(series: many, horizon: 7)) == .tooManySeries(count: many.count, limit: ForecastQuery.maxSeries))
        let long = [ForecastSeries(startMs: 0, values: [Float](repeating: 1, count: ForecastQuery.maxValues + 1))]
        #expect(error(ForecastQuery(series: long, horizon: 7))
            == .tooManyValues(index: 0, count: ForecastQuery.maxValues + 1, limit: ForecastQuery.maxValues))
        // NaN values are missing, not errors; the default levels fill an empty list.
        let ok = try? b.validate(ForecastQuery(series: [ForecastSeries(startMs: 0, values: [.nan])], horizon: 14))
        #expect(ok?.levels == b.config.defaultQuantiles)
        #expect(ForecastInputError.emptySeries(index: 2).description.contains("series[2].values"))
        #expect(ForecastInputError.horizon(0, maxHorizon: 14).description.contains("horizon"))
        #expect(ForecastInputError.quantile(index: 1, value: 1.5).description.contains("quantiles[1]"))
    }
}

/// Loading forecasters: alone, beside a recommender, and what fails.
@Suite struct ForecasterLoaderTests {
    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-test-\(UUID().uuidString)").path
    }

    static func loadError(_ path: String) -> String? {
        do { _ = try BundleContents(path: path) } catch { return "\(error)" }
        return nil
    }

    @Test func aForecasterOnlyBundleLoadsWithOrWithoutItems() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SyntheticForecaster().write(to: dir)
        let bare = try BundleContents(path: dir)
        #expect(bare.recommender == nil)
        #expect(bare.forecaster?.config == SyntheticForecaster.tinyConfig())
        #expect(bare.items.isEmpty)
        #expect(bare.name == URL(fileURLWithPath: dir).lastPathComponent)
        // items.tsv: any integer ids (the shop's series), no catalogue to check them against.
        try "item_id\texternal_id\ttitle\n85123\t85123A\tLantern\n-4\tPOST\tPostage\n".write(
            toFile: dir + "/items.tsv", atomically: true, encoding: .utf8)
        let titled = try BundleContents(path: dir)
        #expect(titled.items[85123] == ItemInfo(title: "Lantern", externalID: "85123A"))
        #expect(titled.items[-4]?.externalID == "POST")
    }

    @Test func aNameAndVersionInForecasterJSONNameTheModel() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var synthetic = SyntheticForecaster()
        synthetic.config.name = "demand"
        synthetic.config.version = "2026-12-07.1"
        try synthetic.write(to: dir)
        let contents = try BundleContents(path: dir)
        #expect(contents.name == "demand" && contents.version == "2026-12-07.1")
    }

    @Test func aRecommenderBundleCarriesItsForecaster() throws {
        let dir = try SyntheticBundle().write()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try ModelBundle(path: dir).forecaster == nil)
        try SyntheticForecaster().write(to: dir)
        let contents = try BundleContents(path: dir)
        #expect(contents.recommender != nil)
        #expect(contents.forecaster?.config.maxHorizon == 14)
    }

    @Test func halfAForecasterFailsTheLoad() throws {
        let dir = try SyntheticBundle().write()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SyntheticForecaster().write(to: dir)
        try FileManager.default.removeItem(atPath: dir + "/forecaster.safetensors")
        #expect(Self.loadError(dir)?.contains("forecaster.safetensors") == true)
        try SyntheticForecaster().write(to: dir)
        try FileManager.default.removeItem(atPath: dir + "/forecaster.json")
        #expect(Self.loadError(dir)?.contains("forecaster.json: cannot read") == true)
    }

    @Test func badTensorsAndConfigsNameWhatIsWrong() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let synthetic = SyntheticForecaster()
        var blobs = synthetic.blobs()
        blobs.removeAll { $0.name == "layers.1.attn.v.bias" }
        try synthetic.write(to: dir, blobs: blobs)
        #expect(Self.loadError(dir)?.contains("tensor layers.1.attn.v.bias is missing") == true)
        blobs = synthetic.blobs()
        blobs[blobs.firstIndex { $0.name == "head.weight" }!].shape = [16, 28]
        try synthetic.write(to: dir, blobs: blobs)
        #expect(Self.loadError(dir)?.contains("tensor head.weight has shape [16, 28], expected [28, 16]") == true)
        try synthetic.write(to: dir, blobs: synthetic.blobs() + [TensorBlob(name: "layers.2.ff1.bias", floats: [0], shape: [1])])
        #expect(Self.loadError(dir)?.contains("unexpected tensor layers.2.ff1.bias") == true)
        // Sorted keys: the edits below match fixed text (`"patch":7,` must not be the last key).
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(synthetic.config), as: UTF8.self)
        for (edit, message) in [
            (json.replacingOccurrences(of: "\"context\":28", with: "\"context\":30"), "context 30 is not a multiple of patch 7"),
            (json.replacingOccurrences(of: "\"default_quantiles\":[0.1", with: "\"default_quantiles\":[0.25"),
             "default_quantiles must be levels of quantiles"),
            (json.replacingOccurrences(of: "\"quantiles\":[0.1,0.5,0.9]", with: "\"quantiles\":[0.5,0.1,0.9]"),
             "quantiles must be strictly increasing"),
            (json.replacingOccurrences(of: "\"closed_weekdays\":[6]", with: "\"closed_weekdays\":[7]"), "closed_weekdays"),
            (json.replacingOccurrences(of: "fuserank-forecaster-1", with: "fuserank-forecaster-2"), "expected \"fuserank-forecaster-1\""),
            (json.replacingOccurrences(of: "\"patch\":7,", with: ""), "missing key patch"),
        ] {
            #expect(edit != json, "the edit for \(message) changed nothing")
            try synthetic.write(to: dir, configJSON: edit)
            let error = Self.loadError(dir)
            #expect(error?.contains("forecaster.json: bad config") == true && error?.contains(message) == true, "\(error ?? "loaded")")
        }
    }
}
