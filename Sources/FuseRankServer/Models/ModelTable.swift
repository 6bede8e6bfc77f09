import Foundation
import FuseRankModel

/// The models served now, by name: swapped atomically, read by every thread.
///
/// A lookup returns the ``ServedModel`` instance current at that moment; the caller keeps it for
/// the whole request, so a swap or a removal never changes a request already taken. Readers and
/// the loader thread only contend for a dictionary lookup under a lock.
// @unchecked Sendable: `models`, `order` and `defaultName` are read and written only under `lock`.
public final class ModelTable: @unchecked Sendable {
    private let lock = NSLock()
    private var models: [String: ServedModel] = [:]
    private var order: [String] = []
    private var defaultName: String?

    /// An empty table.
    public init() {}

    /// A table serving fixed bundles under their own names and versions, the first the default
    /// (tests and tools; the server loads through ``ModelLoader``).
    /// - Throws: ``ServerError/modelLoad(path:reason:)``.
    public convenience init(bundlePaths: [String]) throws {
        self.init()
        for path in bundlePaths {
            do {
                let contents = try BundleContents(path: path)
                publish(ServedModel(name: contents.name, version: contents.version, contents: contents, origin: .fixed))
            } catch {
                throw ServerError.modelLoad(path: path, reason: "\(error)")
            }
        }
    }

    /// The model a request names; the empty name selects the default model.
    /// - Parameter name: `RankRequest.model` or `ModelInfoRequest.model`.
    /// - Returns: the current instance, or nil when no model has that name (or no default is set).
    public func model(named name: String) -> ServedModel? {
        lock.lock()
        defer { lock.unlock() }
        if name.isEmpty { return defaultName.flatMap { models[$0] } }
        return models[name]
    }

    /// Serves `model` under its name, replacing any other version atomically.
    ///
    /// The first model published becomes the default unless ``setDefault(_:)`` named one.
    /// - Returns: the instance it replaced, if any.
    @discardableResult
    public func publish(_ model: ServedModel) -> ServedModel? {
        lock.lock()
        defer { lock.unlock() }
        let old = models.updateValue(model, forKey: model.name)
        if old == nil { order.append(model.name) }
        if defaultName == nil { defaultName = model.name }
        return old
    }

    /// Stops serving the model named `name`: later lookups get nil (NOT_FOUND); requests holding it
    /// finish on it.
    /// - Returns: the instance removed, if any.
    @discardableResult
    public func remove(_ name: String) -> ServedModel? {
        lock.lock()
        defer { lock.unlock() }
        guard let old = models.removeValue(forKey: name) else { return nil }
        order.removeAll { $0 == name }
        return old
    }

    /// Names the default model (the one an empty model name selects), served yet or not.
    public func setDefault(_ name: String) {
        lock.lock()
        defaultName = name
        lock.unlock()
    }

    /// The default model's name, if one is set.
    public var defaultModelName: String? {
        lock.lock()
        defer { lock.unlock() }
        return defaultName
    }

    /// Every served model, the default first, then in the order they were first published.
    public var snapshot: [ServedModel] {
        lock.lock()
        defer { lock.unlock() }
        var names = order
        if let d = defaultName, let i = names.firstIndex(of: d) { names.insert(names.remove(at: i), at: 0) }
        return names.compactMap { models[$0] }
    }

    /// The NOT_FOUND message for an unknown model name.
    func notFoundMessage(_ name: String) -> String {
        let names = snapshot.map { "\"\($0.name)\"" }
        if name.isEmpty { return "no default model is served yet" }
        return "model \"\(name)\" is not served; this server serves \(names.isEmpty ? "no model yet" : names.joined(separator: ", "))"
    }
}
