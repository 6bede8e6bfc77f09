/// Hyperparameters of a bundle's demand forecaster, read from `forecaster.json` (snake_case keys).
///
/// The format is written down in `docs/model-format.md`, section "Forecaster". Unknown keys are
/// ignored; a missing key (other than the optional `name` and `version`) fails decoding and an
/// out-of-range value fails ``validationProblem()``.
public struct ForecasterConfig: Sendable, Codable, Equatable {
    /// The `format` value every `forecaster.json` carries.
    public static let formatName = "fuserank-forecaster-1"
    /// Milliseconds in a day: the weekday and season features count days since the epoch.
    public static let dayMs: Int64 = 86_400_000

    /// The length of one period.
    public enum Period: String, Sendable, Codable, Equatable {
        case day, week
    }

    /// Days or weeks.
    public var period: Period
    /// One period's length in ms.
    public var periodMs: Int64
    /// Periods per token (P).
    public var patch: Int
    /// Context periods the model reads (C), a multiple of ``patch``.
    public var context: Int
    /// The most periods it forecasts (H), a multiple of ``patch``.
    public var maxHorizon: Int
    /// Width of every token.
    public var dModel: Int
    /// Attention heads; `dModel % heads == 0`.
    public var heads: Int
    /// Encoder blocks.
    public var layers: Int
    /// Feed-forward hidden width.
    public var dFF: Int
    /// LayerNorm epsilon.
    public var layerNormEps: Float
    /// The Q levels the head emits, strictly increasing in (0, 1).
    public var quantiles: [Float]
    /// The levels a request without `quantiles` gets: a subset of ``quantiles``.
    public var defaultQuantiles: [Float]
    /// Weekdays (0 = Monday ... 6 = Sunday, UTC) the shop does not trade on; day periods only.
    public var closedWeekdays: [Int]
    /// The model name of a forecaster-only bundle served with `--model` (optional key `name`; the
    /// folder's name when absent). A bundle with `config.json` is named there.
    public var name: String
    /// Free-text version of a forecaster-only bundle, echoed to clients (optional key `version`).
    public var version: String

    /// Creates a configuration from its values (tests and synthetic bundles).
    public init(
        period: Period = .day, periodMs: Int64 = ForecasterConfig.dayMs, patch: Int, context: Int, maxHorizon: Int,
        dModel: Int, heads: Int, layers: Int, dFF: Int, layerNormEps: Float = 1e-5, quantiles: [Float],
        defaultQuantiles: [Float], closedWeekdays: [Int] = [], name: String = "", version: String = ""
    ) {
        self.period = period
        self.periodMs = periodMs
        self.patch = patch
        self.context = context
        self.maxHorizon = maxHorizon
        self.dModel = dModel
        self.heads = heads
        self.layers = layers
        self.dFF = dFF
        self.layerNormEps = layerNormEps
        self.quantiles = quantiles
        self.defaultQuantiles = defaultQuantiles
        self.closedWeekdays = closedWeekdays
        self.name = name
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case format, period, patch, context, heads, layers, quantiles, name, version
        case periodMs = "period_ms"
        case maxHorizon = "max_horizon"
        case dModel = "d_model"
        case dFF = "d_ff"
        case layerNormEps = "layer_norm_eps"
        case defaultQuantiles = "default_quantiles"
        case closedWeekdays = "closed_weekdays"
    }

    /// Decodes `forecaster.json`, checking `format`.
    /// - Throws: `DecodingError` for a missing key, a wrong type or a wrong format.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try c.decode(String.self, forKey: .format)
        guard format == Self.formatName else {
            throw DecodingError.dataCorruptedError(
                forKey: .format, in: c, debugDescription: "format is \"\(format)\", expected \"\(Self.formatName)\"")
        }
        period = try c.decode(Period.self, forKey: .period)
        periodMs = try c.decode(Int64.self, forKey: .periodMs)
        patch = try c.decode(Int.self, forKey: .patch)
        context = try c.decode(Int.self, forKey: .context)
        maxHorizon = try c.decode(Int.self, forKey: .maxHorizon)
        dModel = try c.decode(Int.self, forKey: .dModel)
        heads = try c.decode(Int.self, forKey: .heads)
        layers = try c.decode(Int.self, forKey: .layers)
        dFF = try c.decode(Int.self, forKey: .dFF)
        layerNormEps = try c.decode(Float.self, forKey: .layerNormEps)
        quantiles = try c.decode([Float].self, forKey: .quantiles)
        defaultQuantiles = try c.decode([Float].self, forKey: .defaultQuantiles)
        closedWeekdays = try c.decode([Int].self, forKey: .closedWeekdays)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        version = try c.decodeIfPresent(String.self, forKey: .version) ?? ""
    }

    /// Encodes the complete `forecaster.json`, `format` included (`name` and `version` when set).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.formatName, forKey: .format)
        try c.encode(period, forKey: .period)
        try c.encode(periodMs, forKey: .periodMs)
        try c.encode(patch, forKey: .patch)
        try c.encode(context, forKey: .context)
        try c.encode(maxHorizon, forKey: .maxHorizon)
        try c.encode(dModel, forKey: .dModel)
        try c.encode(heads, forKey: .heads)
        try c.encode(layers, forKey: .layers)
        try c.encode(dFF, forKey: .dFF)
        try c.encode(layerNormEps, forKey: .layerNormEps)
        try c.encode(quantiles, forKey: .quantiles)
        try c.encode(defaultQuantiles, forKey: .defaultQuantiles)
        try c.encode(closedWeekdays, forKey: .closedWeekdays)
        if !name.isEmpty { try c.encode(name, forKey: .name) }
        if !version.isEmpty { try c.encode(version, forKey: .version) }
    }

    /// Context tokens: C / P.
    public var contextTokens: Int { context / patch }
    /// Tokens of one series: T = C/P + H/P.
    public var tokens: Int { (context + maxHorizon) / patch }
    /// Features of one token: F = 3P + 11.
    public var features: Int { 3 * patch + 11 }
    /// Head outputs per period: the mean's logit, then one per emitted level (1 + Q).
    public var outputsPerPeriod: Int { 1 + quantiles.count }
    /// Width of one attention head.
    public var dHead: Int { dModel / heads }

    /// The first out-of-range value, described, or `nil` when every value is usable.
    public func validationProblem() -> String? {
        func check(_ value: Int, _ key: String, _ range: ClosedRange<Int>) -> String? {
            range.contains(value) ? nil : "\(key) is \(value), expected \(range.lowerBound)...\(range.upperBound)"
        }
        let levels = quantiles.allSatisfy { $0 > 0 && $0 < 1 } && zip(quantiles, quantiles.dropFirst()).allSatisfy { $0 < $1 }
        let checks: [String?] = [
            periodMs > 0 ? nil : "period_ms is \(periodMs), expected > 0",
            period == .day && periodMs != Self.dayMs ? "period is day, period_ms must be \(Self.dayMs) (got \(periodMs))" : nil,
            period == .week && periodMs != 7 * Self.dayMs ? "period is week, period_ms must be \(7 * Self.dayMs) (got \(periodMs))" : nil,
            check(patch, "patch", 1...4_096),
            check(context, "context", patch...65_536),
            context % max(patch, 1) == 0 ? nil : "context \(context) is not a multiple of patch \(patch)",
            check(maxHorizon, "max_horizon", patch...65_536),
            maxHorizon % max(patch, 1) == 0 ? nil : "max_horizon \(maxHorizon) is not a multiple of patch \(patch)",
            check(dModel, "d_model", 1...65_536),
            check(heads, "heads", 1...max(1, min(dModel, 65_536))),
            dModel % max(heads, 1) == 0 ? nil : "d_model \(dModel) is not a multiple of heads \(heads)",
            check(layers, "layers", 1...1_024),
            check(dFF, "d_ff", 1...262_144),
            layerNormEps.isFinite && layerNormEps > 0 ? nil : "layer_norm_eps is \(layerNormEps), expected > 0",
            check(quantiles.count, "the number of quantiles", 1...1_024),
            levels ? nil : "quantiles must be strictly increasing, each in (0, 1)",
            defaultQuantiles.allSatisfy(quantiles.contains) ? nil : "default_quantiles must be levels of quantiles",
            closedWeekdays.allSatisfy((0...6).contains) ? nil : "closed_weekdays must be in 0...6 (0 = Monday)",
            period == .week && !closedWeekdays.isEmpty ? "closed_weekdays must be empty for week periods" : nil,
        ]
        return checks.lazy.compactMap { $0 }.first
    }
}
