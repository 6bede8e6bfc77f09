import Foundation

/// The forecaster golden fixtures in `Tests/Fixtures/golden/<set>/` (written by
/// `training/fuserank/forecast/fixtures.py`): `forecaster.json`, `forecaster.safetensors` and a
/// `cases.json` of requests with the PyTorch outputs. Plain data, shared by the model tests and
/// the server tests.
public struct ForecastCaseFile: Decodable, Sendable {
    /// Every forecaster fixture set folder (one holding a `cases.json` and a `forecaster.json`),
    /// sorted by name.
    public static var sets: [URL] {
        let root = GoldenCaseFile.root
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().map { root.appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("cases.json").path) }
            .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("forecaster.json").path) }
    }

    /// Reads `cases.json` of a fixture set folder.
    public static func load(_ set: URL) throws -> ForecastCaseFile {
        try load(file: set.appendingPathComponent("cases.json"))
    }

    /// Reads a file in the `cases.json` layout (e.g. a shipped bundle's parity file in
    /// `Tests/Fixtures/parity/`).
    public static func load(file: URL) throws -> ForecastCaseFile {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ForecastCaseFile.self, from: Data(contentsOf: file))
    }

    /// One level's reference values.
    public struct Quantile: Decodable, Sendable {
        public var quantile: Float, values: [Float]
    }

    /// One series: the request (`values` with null = NaN, `quantiles` as sent, maybe empty) and
    /// the PyTorch outputs.
    public struct Case: Decodable, Sendable {
        public var itemId: Int64, startMs: Int64, horizon: Int
        public var quantiles: [Float]
        public var mean: [Float]
        public var quantilesOut: [Quantile]
        private var values: [Float?]

        /// The series' values, NaN where the file holds null.
        public var series: [Float] { values.map { $0 ?? .nan } }
    }

    public var cases: [Case]

    /// The parity bound of the forecaster: 1e-4 absolute, or relative for values above 1.
    public static func close(_ a: Float, _ b: Float) -> Bool {
        abs(a - b) <= 1e-4 * max(1, abs(b))
    }
}
