import Foundation
import FuseRankModel
import Testing

@testable import FuseRankServer

/// A repository folder built from copies of the golden `tiny` bundle, one per version.
final class RepositoryFolder {
    let root: String
    static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/golden/tiny").standardized.path

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-repo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Publishes `model/version` the safe way: written in a staging folder, renamed into place.
    @discardableResult
    func publish(_ model: String, _ version: String, broken: Bool = false) throws -> String {
        let staging = root + "/.staging-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        for file in ["config.json", "vocab.txt", "weights.safetensors"] {
            try FileManager.default.copyItem(atPath: Self.source + "/" + file, toPath: staging + "/" + file)
        }
        if broken { try truncate(staging + "/weights.safetensors") }
        try FileManager.default.createDirectory(atPath: root + "/" + model, withIntermediateDirectories: true)
        let path = root + "/" + model + "/" + version
        try FileManager.default.moveItem(atPath: staging, toPath: path)
        return path
    }

    /// Cuts a file to half its length.
    func truncate(_ path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
    }
}

/// Counts loads and collects events, thread-safely.
final class RepositoryProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var _loads: [String] = []
    private var _events: [ModelRepositoryEvent] = []
    var loads: [String] { lock.withLock { _loads } }
    var events: [ModelRepositoryEvent] { lock.withLock { _events } }
    func loaded(_ path: String) { lock.withLock { _loads.append((path as NSString).lastPathComponent) } }
    func event(_ e: ModelRepositoryEvent) { lock.withLock { _events.append(e) } }
}

@Suite struct ModelRepositoryTests {
    static func repository(
        _ folder: RepositoryFolder, table: ModelTable = ModelTable(), probe: RepositoryProbe,
        beforeLoad: @escaping @Sendable (String) throws -> Void = { _ in },
        warmUp: @escaping @Sendable (ModelBundle) throws -> Void = { try ModelWarmUp.run($0, maxBatch: 3) }
    ) -> ModelRepository {
        ModelRepository(
            directories: [folder.root], table: table,
            load: { path in
                probe.loaded(path)
                try beforeLoad(path)
                return try ModelBundle(path: path)
            },
            warmUp: warmUp, events: { probe.event($0) })
    }

    /// A version's workers' rankers are built by the load path, before it is published: a worker
    /// finds its own (one per worker, each with its own scratch) before any request arrives.
    @Test func enginesAreBuiltBeforeTheVersionIsPublished() throws {
        let folder = try RepositoryFolder()
        try folder.publish("m", "1")
        let table = ModelTable()
        let repo = ModelRepository(
            directories: [folder.root], table: table,
            loading: VersionLoading(warmUp: { _ in }, engines: ModelEngines.Shape(workers: 3, maxBatch: 2)))
        #expect(table.model(named: "m") == nil)
        repo.scan()
        let served = try #require(table.model(named: "m"))
        let rankers = (0..<3).compactMap { served.engines.ranker(for: $0) }
        #expect(rankers.count == 3)
        #expect(Set(rankers.map(ObjectIdentifier.init)).count == 3, "one ranker per worker")
        #expect(rankers.allSatisfy { $0.bundle === served.bundle && $0.maxBatch == 2 })
        #expect(served.engines.ranker(for: 3) == nil && served.engines.forecaster(for: 0) == nil)
        // A new version comes with its own engines.
        try folder.publish("m", "2")
        repo.scan()
        let next = try #require(table.model(named: "m"))
        #expect(next.version == "2" && next.engines.ranker(for: 0).map { $0.bundle === next.bundle } == true)
    }

    @Test func servesTheHighestVersionThatLoads() throws {
        let folder = try RepositoryFolder()
        try folder.publish("m", "1")
        try folder.publish("m", "2")
        try folder.publish("m", "10", broken: true)
        try FileManager.default.createDirectory(atPath: folder.root + "/m/11.tmp", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder.root + "/m/.staging", withIntermediateDirectories: true)
        let probe = RepositoryProbe()
        let repo = Self.repository(folder, probe: probe)
        let states = repo.scan()
        #expect(probe.loads == ["10", "2"])  // 10 fails, then 2 loads; 1 is never read
        let served = try #require(repo.table.model(named: "m"))
        #expect(served.version == "2" && served.name == "m")
        #expect(repo.table.model(named: "")?.version == "2")  // the first model is the default
        #expect(states.count == 1 && states[0].version == "2" && states[0].failedVersion == "10")
        #expect(states[0].error?.contains("weights.safetensors") == true)
    }

    @Test func aFailedVersionIsRetriedOnlyWhenItsFolderChanges() throws {
        let folder = try RepositoryFolder()
        try folder.publish("m", "1")
        let broken = try folder.publish("m", "2", broken: true)
        let probe = RepositoryProbe()
        let repo = Self.repository(folder, probe: probe)
        repo.scan()
        repo.scan()
        repo.scan()
        #expect(probe.loads == ["2", "1"])  // version 2 tried once only
        #expect(repo.table.model(named: "m")?.version == "1")
        // Fix the folder in place: its fingerprint changes, so it is tried again and served.
        try FileManager.default.removeItem(atPath: broken + "/weights.safetensors")
        try FileManager.default.copyItem(
            atPath: RepositoryFolder.source + "/weights.safetensors", toPath: broken + "/weights.safetensors")
        let states = repo.scan()
        #expect(probe.loads == ["2", "1", "2"])
        #expect(repo.table.model(named: "m")?.version == "2")
        #expect(states[0].failedVersion == nil)
    }

    @Test func aSwapKeepsTheOldVersionAliveForItsHolders() throws {
        let folder = try RepositoryFolder()
        try folder.publish("m", "1")
        let probe = RepositoryProbe()
        let repo = Self.repository(folder, probe: probe)
        repo.scan()
        var held: ServedModel? = repo.table.model(named: "m")  // an in-flight request
        weak let weakOld = held
        try folder.publish("m", "2")
        repo.scan()
        #expect(repo.table.model(named: "m")?.version == "2")
        // The request still ranks on version 1.
        let bundle = try #require(held?.bundle)
        let query = try bundle.validate(RankQuery(events: [BehaviourEvent(itemID: bundle.catalogueItemIDs[0])], topK: 3))
        #expect(Ranker(bundle: bundle, maxBatch: 1).rank([query])[0].items.count == 3)
        #expect(held?.version == "1")
        held = nil
        #expect(weakOld == nil)  // released with its last holder
        #expect(probe.events.contains(.loaded(model: "m", version: "2", replaced: "1")))
    }

    @Test func removingTheModelFolderUnloadsIt() throws {
        let folder = try RepositoryFolder()
        try folder.publish("a", "1")
        try folder.publish("b", "1")
        let probe = RepositoryProbe()
        let repo = Self.repository(folder, probe: probe)
        repo.scan()
        let inFlight = try #require(repo.table.model(named: "b"))
        try FileManager.default.removeItem(atPath: folder.root + "/b")
        let states = repo.scan()
        #expect(repo.table.model(named: "b") == nil)
        #expect(repo.table.notFoundMessage("b").contains("\"a\""))
        #expect(inFlight.bundle?.catalogueSize == 40)  // still usable by its request
        #expect(states.map(\.model) == ["a"])
        #expect(probe.events.contains(.removed(model: "b")))
    }

    @Test func removingTheServedVersionFallsBackToTheNextThatLoads() throws {
        let folder = try RepositoryFolder()
        try folder.publish("m", "1")
        let two = try folder.publish("m", "2")
        let probe = RepositoryProbe()
        let repo = Self.repository(folder, probe: probe)
        repo.scan()
        #expect(repo.table.model(named: "m")?.version == "2")
        try FileManager.default.removeItem(atPath: two)
        repo.scan()
        #expect(repo.table.model(named: "m")?.version == "1")
        try FileManager.default.removeItem(atPath: folder.root + "/m/1")
        repo.scan()
        #expect(repo.table.model(named: "m") == nil)
    }

    @Test func aFolderWrittenDuringItsLoadIsRetriedNotBlamed() throws {
        let folder = try RepositoryFolder()
        try folder.publish("m", "1")
        let probe = RepositoryProbe()
        let writes = RepositoryProbe()
        // The first load of version 1 sees a writer add a file meanwhile.
        let repo = Self.repository(folder, probe: probe, beforeLoad: { path in
            if writes.loads.isEmpty {
                writes.loaded(path)
                try Data("late".utf8).write(to: URL(fileURLWithPath: path + "/model-card.md"))
            }
        })
        repo.scan()
        #expect(repo.table.model(named: "m") == nil)
        #expect(probe.events == [.changedWhileLoading(model: "m", version: "1")])
        repo.scan()
        #expect(repo.table.model(named: "m")?.version == "1")
        #expect(probe.loads == ["1", "1"])
    }

    @Test func aWarmUpFailureFailsTheVersion() throws {
        struct WarmUpFailed: Error {}
        let folder = try RepositoryFolder()
        try folder.publish("m", "1")
        let probe = RepositoryProbe()
        let repo = Self.repository(folder, probe: probe, warmUp: { _ in throw WarmUpFailed() })
        let states = repo.scan()
        #expect(repo.table.model(named: "m") == nil)
        #expect(states == [ModelLoadState(model: "m", version: nil, failedVersion: "1", error: "WarmUpFailed()")])
    }

    @Test func reservedNamesAreLeftToTheFixedModel() throws {
        let folder = try RepositoryFolder()
        try folder.publish("fixed", "1")
        try folder.publish("other", "1")
        let probe = RepositoryProbe()
        let repo = ModelRepository(
            directories: [folder.root], table: ModelTable(), reservedNames: ["fixed"],
            load: { probe.loaded($0); return try ModelBundle(path: $0) }, warmUp: { _ in })
        repo.scan()
        #expect(repo.table.snapshot.map(\.name) == ["other"])
    }

    @Test func versionFolderNames() {
        #expect(ModelRepository.version(ofFolder: "17") == 17)
        #expect(ModelRepository.version(ofFolder: "007") == 7)
        for bad in ["", "1.0", "-1", "v2", " 3", "3 ", "99999999999999999999999"] {
            #expect(ModelRepository.version(ofFolder: bad) == nil)
        }
    }
}
