import Foundation
import FuseRankModel
import FuseRankSynthetic

/// The forecaster: one request of `series` series of `history` daily values each, forecast
/// `horizon` periods ahead with the default levels (one JSON line: ms per request). The bundle is
/// `--model`'s forecaster when it has one, else a random forecaster of the realistic shape
/// (d_model 64, 2 layers, P = 7, C = 112, H = 28, 11 levels).
struct ForecastBench {
    var series = 1_000
    var history = 28
    var horizon = 28
    var iters = 20
    var warmup = 3
    /// A bundle folder with `forecaster.json`; nil = the synthetic forecaster.
    var model: String?

    func run() throws -> [String: Any] {
        let bundle: ForecasterBundle
        var source = "synthetic (seeded random weights)"
        if let model, let forecaster = try BundleContents(path: model).forecaster {
            bundle = forecaster
            source = model
        } else {
            bundle = try SyntheticForecaster(config: SyntheticForecaster.realisticConfig(), seed: 5).load()
        }
        let c = bundle.config
        // Lumpy daily sales: mostly small counts, some zeros, a few missing days.
        var rng = SplitMix64(state: 9)
        let start: Int64 = 1_704_067_200_000  // 2024-01-01, a Monday
        let request = (0..<series).map { _ in
            ForecastSeries(startMs: start, values: (0..<history).map { _ in
                let r = rng.below(100)
                return r < 3 ? .nan : r < 40 ? 0 : Float(rng.below(30))
            })
        }
        let query = try bundle.validate(ForecastQuery(series: request, horizon: min(horizon, c.maxHorizon)))
        let forecaster = Forecaster(bundle: bundle)
        for _ in 0..<warmup { _ = forecaster.forecast(query) }
        var ms: [Double] = []
        for _ in 0..<iters {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = forecaster.forecast(query)
            ms.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        ms.sort()
        let round4 = { (x: Double) in (x * 10_000).rounded() / 10_000 }
        return [
            "impl": "swift", "series": series, "history": history, "horizon": query.query.horizon,
            "median_ms": round4(ms[ms.count / 2]), "p90_ms": round4(ms[min(ms.count - 1, Int((Double(ms.count) * 0.9).rounded(.up)) - 1)]),
            "per_series_us": round4(ms[ms.count / 2] * 1000 / Double(series)),
            "threads": BLAS.threads, "iters": iters, "d_model": c.dModel, "layers": c.layers, "patch": c.patch,
            "context": c.context, "max_horizon": c.maxHorizon, "quantiles": c.quantiles.count, "tokens": c.tokens,
            "max_series_per_pass": forecaster.maxSeries, "forecaster": source, "blas_core": BLAS.coreName,
        ]
    }
}
