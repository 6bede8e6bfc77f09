import Foundation
import FuseRankModel

/// Scans model repositories (`--model-repository DIR`, laid out `DIR/<model>/<version>/`) and
/// keeps a ``ModelTable`` serving the highest version of each model that loads, validates and
/// warms up.
///
/// ``scan()`` does every load on the calling thread (the server's loader thread, never a request
/// thread) and publishes each new version only once it is fully ready. The rules:
/// - Version folders are named by a non-negative integer; anything else (`.staging`, `3.tmp`) is
///   ignored, so a version can be written beside the repository and renamed into place.
/// - Versions only move forward: a version is tried only if it is higher than the one served,
///   highest first; the first that loads is served. If the served version's folder is removed,
///   every remaining version is considered again.
/// - A version that fails is remembered with its ``VersionFingerprint`` and not retried until its
///   folder changes; the version served before keeps serving.
/// - A folder that changes while it is loaded (still being written) is neither served nor marked
///   failed; the next scan tries again.
/// - A model folder that disappears, or holds no version folder, is removed from the table.
// @unchecked Sendable: `failures`, `served` and `lastErrors` are touched only inside `scan()`,
// and `scanLock` serialises scans; the table is thread-safe itself.
public final class ModelRepository: @unchecked Sendable {
    /// The repository folders, in the order given; a model name found in two uses the first.
    public let directories: [String]
    /// Where the served versions are published.
    public let table: ModelTable
    /// The load path every version takes (the fixed bundles' too).
    private let loading: VersionLoading
    private let events: @Sendable (ModelRepositoryEvent) -> Void
    /// Names served from elsewhere (fixed `--model` bundles); a repository model of that name is skipped.
    private let reservedNames: Set<String>
    private let scanLock = NSLock()
    private var failures: [VersionKey: (fingerprint: VersionFingerprint, reason: String)] = [:]
    private var served: [String: (version: UInt64, directory: String)] = [:]
    private var lastErrors: [String: (version: String, reason: String)] = [:]

    private struct VersionKey: Hashable {
        let directory: String
        let model: String
        let version: UInt64
    }

    /// A repository over `directories`.
    /// - Parameters:
    ///   - directories: the repository folders.
    ///   - table: where versions are published.
    ///   - reservedNames: model names that fixed bundles serve.
    ///   - loading: the load path (load, warm up, prepare) every version takes.
    ///   - events: told of every load, failure and removal (logs and metrics).
    public init(
        directories: [String], table: ModelTable, reservedNames: Set<String> = [], loading: VersionLoading,
        events: @escaping @Sendable (ModelRepositoryEvent) -> Void = { _ in }
    ) {
        self.directories = directories
        self.table = table
        self.reservedNames = reservedNames
        self.loading = loading
        self.events = events
    }

    /// A repository over `directories`, its load path made of these steps.
    /// - Parameters:
    ///   - load: loads and fully validates a bundle folder (``BundleContents/init(path:)``).
    ///   - warmUp: runs the bundle once at each batch size; throwing fails the version.
    ///   - prepare: runs on a loaded version before it is published (the live catalogue's
    ///     journal replay); throwing fails the version.
    ///   - The others: as ``init(directories:table:reservedNames:loading:events:)``.
    public convenience init(
        directories: [String], table: ModelTable, reservedNames: Set<String> = [],
        loadContents load: @escaping @Sendable (String) throws -> BundleContents = { try BundleContents(path: $0) },
        warmUpContents warmUp: @escaping @Sendable (BundleContents) throws -> Void,
        events: @escaping @Sendable (ModelRepositoryEvent) -> Void = { _ in },
        prepare: @escaping @Sendable (ServedModel) throws -> Void = { _ in }
    ) {
        self.init(
            directories: directories, table: table, reservedNames: reservedNames,
            loading: VersionLoading(load: load, warmUp: warmUp, prepare: prepare), events: events)
    }

    /// A repository of recommender bundles (a folder without `config.json` fails to load).
    /// - Parameters:
    ///   - load: loads and fully validates a recommender bundle (``ModelBundle/init(path:)``).
    ///   - warmUp: runs the bundle once at each batch size; throwing fails the version.
    ///   - The others: as ``init(directories:table:reservedNames:loadContents:warmUpContents:events:prepare:)``.
    public convenience init(
        directories: [String], table: ModelTable, reservedNames: Set<String> = [],
        load: @escaping @Sendable (String) throws -> ModelBundle = { try ModelBundle(path: $0) },
        warmUp: @escaping @Sendable (ModelBundle) throws -> Void,
        events: @escaping @Sendable (ModelRepositoryEvent) -> Void = { _ in },
        prepare: @escaping @Sendable (ServedModel) throws -> Void = { _ in }
    ) {
        self.init(
            directories: directories, table: table, reservedNames: reservedNames,
            loadContents: { .recommender(try load($0)) },
            warmUpContents: { contents in if let bundle = contents.recommender { try warmUp(bundle) } },
            events: events, prepare: prepare)
    }

    /// Version folder names that count: decimal digits only.
    static func version(ofFolder name: String) -> UInt64? {
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return UInt64(name)
    }

    /// Rescans every repository folder, loads what is new, removes what is gone.
    /// - Returns: each repository model's state after the scan, sorted by name.
    @discardableResult
    public func scan() -> [ModelLoadState] {
        scanLock.lock()
        defer { scanLock.unlock() }
        var seen: Set<String> = []
        for directory in directories {
            for model in Self.subfolders(directory) where !model.hasPrefix(".") {
                if reservedNames.contains(model) {
                    continue  // a fixed --model of this name wins; logged once at start by the server
                }
                guard seen.insert(model).inserted else { continue }
                if let owner = served[model]?.directory, owner != directory { continue }
                scanModel(model, in: directory)
            }
        }
        // Models no longer found in any repository.
        for (model, _) in served where !seen.contains(model) {
            served[model] = nil
            if table.remove(model) != nil { events(.removed(model: model)) }
        }
        for key in failures.keys where !seen.contains(key.model) { failures[key] = nil }
        for model in lastErrors.keys where !seen.contains(model) { lastErrors[model] = nil }
        return states()
    }

    /// The state of every repository model now, sorted by name.
    public func states() -> [ModelLoadState] {
        let names = Set(served.keys).union(lastErrors.keys).sorted()
        return names.map { name in
            ModelLoadState(
                model: name, version: served[name].map { String($0.version) },
                failedVersion: lastErrors[name]?.version, error: lastErrors[name]?.reason)
        }
    }

    private func scanModel(_ model: String, in directory: String) {
        let modelPath = directory + "/" + model
        let versions = Self.subfolders(modelPath).compactMap(Self.version(ofFolder:)).sorted(by: >)
        let current = served[model]
        // The served version's folder is gone: consider every remaining version again.
        let floor: UInt64? = current.flatMap { versions.contains($0.version) ? $0.version : nil }
        if versions.isEmpty {
            if current != nil {
                served[model] = nil
                if table.remove(model) != nil { events(.removed(model: model)) }
            }
            return
        }
        for version in versions {
            if let floor, version <= floor { break }
            let key = VersionKey(directory: directory, model: model, version: version)
            let path = modelPath + "/" + String(version)
            guard let before = VersionFingerprint(folder: path) else { continue }
            if let failed = failures[key], failed.fingerprint == before { continue }
            let loaded: Result<BundleContents, any Error> = Result { try loading.loadAndWarmUp(path) }
            // Written to while we read it: neither serve nor blame it; the next scan retries.
            guard VersionFingerprint(folder: path) == before else {
                events(.changedWhileLoading(model: model, version: String(version)))
                continue
            }
            // Only a version that will be served is prepared (its journal replay may rewrite the journal).
            let outcome: Result<ServedModel, any Error> = loaded.flatMap { contents in
                Result { try loading.prepared(contents, name: model, version: String(version), origin: .repository(directory)) }
            }
            switch outcome {
            case let .success(servedModel):
                failures[key] = nil
                if let failed = lastErrors[model], let v = UInt64(failed.version), v <= version { lastErrors[model] = nil }
                let previous = table.publish(servedModel)
                served[model] = (version, directory)
                events(.loaded(model: model, version: String(version), replaced: previous?.version))
                return
            case let .failure(error):
                let reason = "\(error)"
                failures[key] = (before, reason)
                lastErrors[model] = (String(version), reason)
                events(.failed(model: model, version: String(version), reason: reason))
            }
        }
        // Nothing newer loaded. The served version stays; if its folder went away and no other
        // version loads, the model is no longer served.
        if let current, floor == nil, served[model]?.version == current.version {
            served[model] = nil
            if table.remove(model) != nil { events(.removed(model: model)) }
        }
    }

    private static func subfolders(_ path: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return [] }
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory) && isDirectory.boolValue
        }.sorted()
    }
}

/// What a repository scan did, for logs and metrics.
public enum ModelRepositoryEvent: Sendable, Equatable {
    /// A version loaded, validated, warmed up and is served now (`replaced`: the version before).
    case loaded(model: String, version: String, replaced: String?)
    /// A version failed; the version before (if any) keeps serving.
    case failed(model: String, version: String, reason: String)
    /// A version's folder changed while it was loaded; it is retried at the next scan.
    case changedWhileLoading(model: String, version: String)
    /// A model's folder (or its last version) is gone; it is no longer served.
    case removed(model: String)
}

/// One repository model's state, as `ReloadModels` reports it.
public struct ModelLoadState: Sendable, Equatable {
    /// The model name (its folder).
    public var model: String
    /// The version served, nil when none is.
    public var version: String?
    /// The newest version that failed to load, if any.
    public var failedVersion: String?
    /// Why it failed.
    public var error: String?
}
