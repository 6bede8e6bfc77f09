import Foundation

/// A bundle's demand forecaster (docs/model-format.md "Forecaster"): `forecaster.json` and the
/// memory-mapped tensors of `forecaster.safetensors`. Immutable, shared by every worker thread;
/// each thread forecasts with its own ``Forecaster`` (scratch).
public final class ForecasterBundle: Sendable {
    static let configFileName = "forecaster.json"

    /// The bundle folder.
    public let path: String
    /// The hyperparameters from `forecaster.json`.
    public let config: ForecasterConfig
    /// The tensors of `forecaster.safetensors`, viewed in the map.
    let weights: ForecasterWeights
    /// `closed_weekdays` as a set of 0 (Monday) ... 6 (Sunday).
    let closed: Set<Int>

    /// Loads and validates `path/forecaster.json` and `path/forecaster.safetensors`.
    /// - Parameter path: the bundle folder.
    /// - Throws: ``BundleError`` naming the file (and the tensor) that is wrong.
    public init(path: String) throws {
        self.path = path
        let configPath = (path as NSString).appendingPathComponent(Self.configFileName)
        let config = try ModelBundle.decodeJSON(ForecasterConfig.self, at: configPath) {
            BundleError.badConfig(file: configPath, reason: $0)
        }
        if let problem = config.validationProblem() {
            throw BundleError.badConfig(file: configPath, reason: problem)
        }
        self.config = config
        weights = try ForecasterWeights(bundlePath: path, config: config)
        closed = config.period == .day ? Set(config.closedWeekdays) : []
    }

    /// Loads the forecaster of the bundle folder at `bundlePath`, or returns nil when it has none.
    /// - Throws: ``BundleError`` when only one of the two files is there, or either is wrong.
    static func load(bundlePath: String) throws -> ForecasterBundle? {
        let json = (bundlePath as NSString).appendingPathComponent(configFileName)
        let tensors = (bundlePath as NSString).appendingPathComponent(ForecasterWeights.fileName)
        let manager = FileManager.default
        switch (manager.fileExists(atPath: json), manager.fileExists(atPath: tensors)) {
        case (false, false):
            return nil
        case (false, true):
            throw BundleError.cannotRead(file: json, reason: "missing (forecaster.safetensors needs forecaster.json beside it)")
        default:
            return try ForecasterBundle(path: bundlePath)
        }
    }

    /// Whether the bundle folder at `path` holds a forecaster (`forecaster.json`).
    public static func isPresent(in path: String) -> Bool {
        FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(configFileName))
    }
}
