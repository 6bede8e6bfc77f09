import Foundation

/// What a bundle folder serves (docs/model-format.md "Bundle layout" and "Forecaster"): a
/// recommender, with whatever optional heads and forecaster it carries, or a forecaster alone.
public enum BundleContents: Sendable {
    /// `config.json` and `weights.safetensors`; ``ModelBundle/forecaster`` is set when the folder
    /// holds `forecaster.json` and `forecaster.safetensors` too.
    case recommender(ModelBundle)
    /// `forecaster.json` and `forecaster.safetensors` without `config.json` or
    /// `weights.safetensors`, and the optional `items.tsv` (its ids are the shop's series ids:
    /// there is no catalogue to check them against).
    case forecasterOnly(ForecasterBundle, items: [Int64: ItemInfo])

    /// Loads and validates the bundle folder at `path`: forecaster-only when it holds
    /// `forecaster.json` and neither `config.json` nor `weights.safetensors`, else a recommender.
    /// - Throws: ``BundleError`` naming the file (and the tensor) that is wrong.
    public init(path: String) throws {
        let manager = FileManager.default
        func has(_ name: String) -> Bool { manager.fileExists(atPath: (path as NSString).appendingPathComponent(name)) }
        if ForecasterBundle.isPresent(in: path) && !has("config.json") && !has("weights.safetensors") {
            let forecaster = try ForecasterBundle(path: path)
            let items = try ModelBundle.loadItems((path as NSString).appendingPathComponent("items.tsv"), catalogue: nil)
            self = .forecasterOnly(forecaster, items: items)
        } else {
            self = .recommender(try ModelBundle(path: path))
        }
    }

    /// The folder.
    public var path: String {
        switch self {
        case let .recommender(bundle): bundle.path
        case let .forecasterOnly(forecaster, _): forecaster.path
        }
    }

    /// The recommender; nil for a forecaster-only bundle.
    public var recommender: ModelBundle? {
        if case let .recommender(bundle) = self { bundle } else { nil }
    }

    /// The forecaster; nil for a recommender bundle without one.
    public var forecaster: ForecasterBundle? {
        switch self {
        case let .recommender(bundle): bundle.forecaster
        case let .forecasterOnly(forecaster, _): forecaster
        }
    }

    /// Titles, categories and shop ids from the optional `items.tsv`, by item id.
    public var items: [Int64: ItemInfo] {
        switch self {
        case let .recommender(bundle): bundle.items
        case let .forecasterOnly(_, items): items
        }
    }

    /// The name a fixed (`--model`) bundle is served under: `config.json`'s `name`; for a
    /// forecaster-only bundle, `forecaster.json`'s optional `name`, else the folder's name.
    public var name: String {
        switch self {
        case let .recommender(bundle): bundle.config.name
        case let .forecasterOnly(forecaster, _):
            forecaster.config.name.isEmpty
                ? URL(fileURLWithPath: forecaster.path).standardizedFileURL.lastPathComponent : forecaster.config.name
        }
    }

    /// The version a fixed bundle's replies name: `config.json`'s `version`; for a forecaster-only
    /// bundle, `forecaster.json`'s optional `version` (empty when absent).
    public var version: String {
        switch self {
        case let .recommender(bundle): bundle.config.version
        case let .forecasterOnly(forecaster, _): forecaster.config.version
        }
    }
}
