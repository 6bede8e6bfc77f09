import FuseRankModel

/// The compute objects of one served version, one per worker thread, each with its own scratch:
/// a ``Ranker`` for a recommender, a ``Forecaster`` for a forecaster. The load path
/// (``VersionLoading``) builds them before the version is published, so no request builds one; they
/// go when the version does (its last in-flight request done).
// @unchecked Sendable: `rankers` and `forecasters` are written once, by `build`, on the loader
// thread before the ServedModel is published (ModelTable's lock orders that write before any
// worker's lookup); afterwards they are only read, and worker i alone runs element i.
public final class ModelEngines: @unchecked Sendable {
    private var rankers: [Ranker] = []
    private var forecasters: [Forecaster] = []

    init() {}

    /// What each worker's engines are made with.
    public struct Shape: Sendable {
        /// One set per worker thread.
        public var workers: Int
        /// `--max-batch`.
        public var maxBatch: Int
        /// `--catalogue-scoring`.
        public var catalogueScoring: CatalogueScoring
        /// The server's session cache (shared by every ranker); nil = none.
        public var sessionCache: SessionCache?

        public init(workers: Int, maxBatch: Int, catalogueScoring: CatalogueScoring = .auto, sessionCache: SessionCache? = nil) {
            self.workers = workers
            self.maxBatch = maxBatch
            self.catalogueScoring = catalogueScoring
            self.sessionCache = sessionCache
        }
    }

    /// Builds every worker's engines for `contents`; once, before the version is published.
    func build(_ contents: BundleContents, shape: Shape) {
        precondition(rankers.isEmpty && forecasters.isEmpty, "engines are built once")
        let workers = max(1, shape.workers)
        if let bundle = contents.recommender {
            rankers = (0..<workers).map { _ in
                Ranker(bundle: bundle, maxBatch: shape.maxBatch, catalogueScoring: shape.catalogueScoring, sessionCache: shape.sessionCache)
            }
        }
        if let forecaster = contents.forecaster {
            forecasters = (0..<workers).map { _ in Forecaster(bundle: forecaster) }
        }
    }

    /// Worker `index`'s ranker; nil for a version without a recommender or not built.
    func ranker(for index: Int) -> Ranker? { index < rankers.count ? rankers[index] : nil }

    /// Worker `index`'s forecaster; nil for a version without a forecaster or not built.
    func forecaster(for index: Int) -> Forecaster? { index < forecasters.count ? forecasters[index] : nil }
}
