import FuseRankModel

/// One loaded, validated and warmed-up model version, as requests see it.
///
/// A class on purpose: a request holds a reference from the moment it is queued until its reply is
/// built, so a version swapped out (or a model removed) stays alive, mapped, until its last
/// in-flight request is done, and is released then.
public final class ServedModel: Sendable {
    /// The name requests select it by: the repository folder name, or `config.json`'s `name` for a
    /// fixed `--model` bundle (``BundleContents/name`` for a forecaster-only one).
    public let name: String
    /// The version replies name: the version folder (`17`), or `config.json`'s `version` for a
    /// fixed bundle.
    public let version: String
    /// What the bundle folder holds: a recommender (with its optional forecaster), or a forecaster alone.
    public let contents: BundleContents
    /// Where it came from.
    public let origin: Origin
    /// Its live catalogue changes (content items, hidden items): each Rank batch reads the
    /// current overlay when it starts. Nil for a forecaster-only bundle (it has no catalogue).
    public let catalogue: LiveCatalogue?
    /// Each worker's ranker and forecaster for this version, built by the load path
    /// (``VersionLoading``) before the version is published.
    public let engines = ModelEngines()

    /// Where a served model came from.
    public enum Origin: Sendable, Equatable {
        /// `--model PATH`: loaded once, never reloaded.
        case fixed
        /// `--model-repository DIR`: `DIR/<name>/<version>/`, reloaded when a higher version appears.
        case repository(String)
    }

    /// Wraps a loaded bundle folder.
    public init(name: String, version: String, contents: BundleContents, origin: Origin) {
        self.name = name
        self.version = version
        self.contents = contents
        self.origin = origin
        self.catalogue = contents.recommender.map(LiveCatalogue.init(bundle:))
    }

    /// Wraps a loaded recommender bundle.
    public convenience init(name: String, version: String, bundle: ModelBundle, origin: Origin) {
        self.init(name: name, version: version, contents: .recommender(bundle), origin: origin)
    }

    /// The recommender (weights and vocabulary); nil for a forecaster-only bundle.
    public var bundle: ModelBundle? { contents.recommender }

    /// The forecaster; nil for a recommender bundle without one.
    public var forecaster: ForecasterBundle? { contents.forecaster }

    /// The recommender, for the methods that need one (Rank, GetModelInfo's recommender fields,
    /// the catalogue changes).
    /// - Throws: ``RequestError`` FAILED_PRECONDITION for a forecaster-only bundle.
    func recommender() throws -> ModelBundle {
        guard let bundle else {
            throw RequestError(
                code: .failedPrecondition,
                message: "model \"\(name)\" is a forecaster-only bundle (forecaster.json, no config.json): it answers Forecast only")
        }
        return bundle
    }

    /// The forecaster, for `Forecast`.
    /// - Throws: ``RequestError`` FAILED_PRECONDITION for a bundle without `forecaster.json`.
    func forecastModel() throws -> ForecasterBundle {
        guard let forecaster else {
            throw RequestError(
                code: .failedPrecondition,
                message: "model \"\(name)\" has no forecaster (no forecaster.json and forecaster.safetensors in its bundle): it cannot answer Forecast")
        }
        return forecaster
    }

    /// The live catalogue of a model with a recommender.
    /// - Throws: ``RequestError`` FAILED_PRECONDITION for a forecaster-only bundle.
    func liveCatalogue() throws -> LiveCatalogue {
        _ = try recommender()
        return catalogue!  // made for every recommender
    }
}
