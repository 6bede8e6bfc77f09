import FuseRankModel

/// One loaded, validated and warmed-up model version, as requests see it.
///
/// A class on purpose: a request holds a reference from the moment it is queued until its reply is
/// built, so a version swapped out (or a model removed) stays alive, mapped, until its last
/// in-flight request is done, and is released then.
public final class ServedModel: Sendable {
    /// The name requests select it by: the repository folder name, or `config.json`'s `name` for a
    /// fixed `--model` bundle.
    public let name: String
    /// The version replies name: the version folder (`17`), or `config.json`'s `version` for a
    /// fixed bundle.
    public let version: String
    /// The weights and vocabulary.
    public let bundle: ModelBundle
    /// Where it came from.
    public let origin: Origin
    /// Its live catalogue changes (content items, hidden items): each Rank batch reads the
    /// current overlay when it starts.
    public let catalogue: LiveCatalogue

    /// Where a served model came from.
    public enum Origin: Sendable, Equatable {
        /// `--model PATH`: loaded once, never reloaded.
        case fixed
        /// `--model-repository DIR`: `DIR/<name>/<version>/`, reloaded when a higher version appears.
        case repository(String)
    }

    /// Wraps a loaded bundle.
    public init(name: String, version: String, bundle: ModelBundle, origin: Origin) {
        self.name = name
        self.version = version
        self.bundle = bundle
        self.origin = origin
        self.catalogue = LiveCatalogue(bundle: bundle)
    }
}
