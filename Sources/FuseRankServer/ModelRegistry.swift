import FuseRankModel

/// The loaded model bundles by name; the first loaded is the default.
///
/// Immutable after init and shared by the front thread and every worker.
public struct ModelRegistry: Sendable {
    /// The bundles in load order; the first is the default.
    public let bundles: [ModelBundle]
    private let byName: [String: ModelBundle]

    /// Loads every bundle.
    /// - Parameter paths: bundle folders, default first (at least one).
    /// - Throws: ``ServerError/modelLoad(path:reason:)`` or ``ServerError/duplicateModelName(name:paths:)``.
    public init(paths: [String]) throws {
        var bundles: [ModelBundle] = []
        var byName: [String: ModelBundle] = [:]
        for path in paths {
            let bundle: ModelBundle
            do {
                bundle = try ModelBundle(path: path)
            } catch {
                throw ServerError.modelLoad(path: path, reason: "\(error)")
            }
            if let other = byName[bundle.config.name] {
                throw ServerError.duplicateModelName(name: bundle.config.name, paths: [other.path, path])
            }
            byName[bundle.config.name] = bundle
            bundles.append(bundle)
        }
        guard !bundles.isEmpty else { throw ServerError.badConfiguration("no model bundle given") }
        self.bundles = bundles
        self.byName = byName
    }

    /// The default model (the first loaded).
    public var defaultBundle: ModelBundle { bundles[0] }

    /// Model names, the default first.
    public var names: [String] { bundles.map(\.config.name) }

    /// The bundle a request names; the empty name selects the default.
    /// - Parameter name: `RankRequest.model` or `ModelInfoRequest.model`.
    /// - Returns: the bundle, or nil when no model has that name.
    public func bundle(named name: String) -> ModelBundle? {
        name.isEmpty ? defaultBundle : byName[name]
    }

    /// The NOT_FOUND message for an unknown model name.
    func notFoundMessage(_ name: String) -> String {
        "model \"\(name)\" is not served; this server serves \(names.map { "\"\($0)\"" }.joined(separator: ", "))"
    }
}
