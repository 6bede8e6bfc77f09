import FuseRankModel

/// The one load path of a model version, a fixed `--model` bundle and a repository version alike
/// (``ModelLoader`` uses it for the first, ``ModelRepository`` for the second):
///
///     load (and validate) -> warm up -> [the repository checks the folder did not change]
///       -> prepare (replay its catalogue journal, build each worker's engines) -> publish
///
/// A version that throws at any step is not published; the one served before keeps serving.
public struct VersionLoading: Sendable {
    /// Loads and fully validates a bundle folder (``BundleContents/init(path:)``).
    let load: @Sendable (String) throws -> BundleContents
    /// Runs the bundle once at each batch size (``ModelWarmUp``); throwing fails the version.
    let warmUp: @Sendable (BundleContents) throws -> Void
    /// Runs on a loaded version before it is published (the live catalogue's journal replay);
    /// throwing fails the version.
    let prepare: @Sendable (ServedModel) throws -> Void
    /// The workers' engines built for every version; nil: none (a table no worker reads).
    let engines: ModelEngines.Shape?

    /// - Parameters: the steps, as the fields say.
    public init(
        load: @escaping @Sendable (String) throws -> BundleContents = { try BundleContents(path: $0) },
        warmUp: @escaping @Sendable (BundleContents) throws -> Void,
        prepare: @escaping @Sendable (ServedModel) throws -> Void = { _ in },
        engines: ModelEngines.Shape? = nil
    ) {
        self.load = load
        self.warmUp = warmUp
        self.prepare = prepare
        self.engines = engines
    }

    /// Steps 1 and 2: the folder's contents, validated and warmed up.
    package func loadAndWarmUp(_ path: String) throws -> BundleContents {
        let contents = try load(path)
        try warmUp(contents)
        return contents
    }

    /// Step 3: the served version of loaded contents, prepared and with its engines, ready to
    /// publish (``ModelTable/publish(_:)``).
    package func prepared(_ contents: BundleContents, name: String, version: String, origin: ServedModel.Origin) throws -> ServedModel {
        let model = ServedModel(name: name, version: version, contents: contents, origin: origin)
        try prepare(model)
        if let engines { model.engines.build(contents, shape: engines) }
        return model
    }
}
