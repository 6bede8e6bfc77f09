import Foundation
import FuseRankModel
import FuseRankRedis
import FuseRankTestSupport
import FuseRankWire
import Logging
import Testing

@testable import FuseRankServer

/// The shared catalogue log (`--catalogue-log`, docs/deploy.md "Replicas that share a catalogue")
/// against a real redis-server: in-process replicas of a synthetic model with a content
/// projection, each change acknowledged by one replica and then ranked by all of them, in the
/// stream's order; a replica started later catches up before it is ready; with Redis gone admin
/// calls are UNAVAILABLE, ranking goes on, and the replica catches up when Redis is back.
@Suite(.serialized) struct CatalogueLogTests {
    /// A bundle folder of the synthetic model (items 114, 121, ..., 100 + 7k) with a content projection.
    static func bundleFolder() throws -> String {
        var synthetic = SyntheticBundle()
        synthetic.addContentProjection(contentDim: 2)
        return try synthetic.write()
    }

    static func replica(_ folder: String, _ redis: RedisProcess) throws -> TestServer {
        try TestServer(models: [folder]) {
            $0.catalogueLog = redis.address()
            $0.adminInsecure = true
        }
    }

    static func health(_ peer: Peer, id: UInt64 = 1) throws -> HealthReply {
        try HealthReply(bytes: peer.call(.health, id: id, body: HealthRequest().encode()).body)
    }

    /// The candidates among `items` the replica ranks as unknown and as unavailable.
    static func view(_ peer: Peer, _ items: [Int64]) throws -> (unknown: [Int64], hidden: [Int64]) {
        let reply = try peer.rank(RankRequest(events: [Event(itemID: 135, type: .view)], candidates: items))
        return (reply.unknownCandidates, reply.unavailableCandidates)
    }

    @Test func aChangeAcknowledgedByOneReplicaReachesEveryReplicaInOrder() async throws {
        let redis = try RedisProcess()
        let folder = try Self.bundleFolder()
        let a = try Self.replica(folder, redis), b = try Self.replica(folder, redis)
        let pa = try a.peer(), pb = try b.peer()
        // A new item through A: A ranks it as soon as the call is answered (its own change applied).
        let upsert = UpsertItemsRequest(items: [ItemContent(itemID: 5000, textTokens: [2, 3])])
        let added = try pa.call(.upsertItems, id: 2, body: upsert.encode())
        #expect(added.header.code == .ok, "\(added.header.message)")
        #expect(try UpsertItemsReply(bytes: added.body) == UpsertItemsReply(added: 1, replaced: 0, journalSequence: 1))
        #expect(try Self.view(pa, [5000, 114]).unknown.isEmpty)
        #expect(await eventually { (try? Self.view(pb, [5000]).unknown) == [] }, "B never ranked A's new item")
        // Conflicting changes from both replicas: every replica ends with the stream's order.
        for (i, hide) in [true, false, true, false, true].enumerated() {
            let peer = i.isMultiple(of: 2) ? pb : pa
            let reply = try peer.call(.setItemsAvailable, id: UInt64(10 + i),
                                      body: SetItemsAvailableRequest(itemIDs: [5000, 114], available: !hide).encode())
            #expect(reply.header.code == .ok, "\(reply.header.message)")
            #expect(try SetItemsAvailableReply(bytes: reply.body).journalSequence == UInt64(2 + i))
        }
        for peer in [pa, pb] {
            #expect(await eventually { (try? Self.health(peer).catalogueLog.first?.applied) == 6 })
            #expect(try Self.view(peer, [5000, 114, 121]).hidden == [5000, 114])
            let position = try #require(try Self.health(peer).catalogueLog.first)
            #expect(position.model == "synthetic")
            #expect(position.length == 6 && position.caughtUp && position.connected && !position.lastID.isEmpty)
        }
        let (ca, cb) = (try #require(a.server.models.snapshot[0].catalogue?.current), try #require(b.server.models.snapshot[0].catalogue?.current))
        #expect(ca.contentIDs == cb.contentIDs && ca.hidden == cb.hidden)
    }

    @Test func aReplicaStartedLaterCatchesUpBeforeItIsReady() throws {
        let redis = try RedisProcess()
        let folder = try Self.bundleFolder()
        let a = try Self.replica(folder, redis)
        let pa = try a.peer()
        for i in 0..<3 {
            let upsert = UpsertItemsRequest(items: [ItemContent(itemID: Int64(6000 + i), textTokens: [2])])
            #expect(try pa.call(.upsertItems, id: UInt64(i + 1), body: upsert.encode()).header.code == .ok)
        }
        // start() returns once the models serve: by then the late replica has read the stream.
        let late = try Self.replica(folder, redis)
        let pl = try late.peer()
        let health = try Self.health(pl)
        #expect(health.ready && health.catalogueLog.first?.applied == 3 && health.catalogueLog.first?.caughtUp == true)
        #expect(try Self.view(pl, [6000, 6001, 6002]).unknown.isEmpty)
    }

    @Test func withoutRedisAdminCallsAreUnavailableRankingGoesOnAndTheReplicaCatchesUpAfter() async throws {
        let redis = try RedisProcess()
        let folder = try Self.bundleFolder()
        let a = try Self.replica(folder, redis)
        let pa = try a.peer()
        let hide = SetItemsAvailableRequest(itemIDs: [114], available: false)
        #expect(try pa.call(.setItemsAvailable, id: 1, body: hide.encode()).header.code == .ok)
        redis.kill()
        try pa.expectError(.unavailable, method: Method.setItemsAvailable.path, id: 2,
                           body: SetItemsAvailableRequest(itemIDs: [121], available: false).encode())
        #expect(try Self.view(pa, [114, 121]).hidden == [114], "ranking goes on with the changes applied so far")
        #expect(await eventually { (try? Self.health(pa)).map { !$0.ready && $0.catalogueLog.first?.connected == false } ?? false })
        // Redis comes back with its AOF, plus a change the replica has not seen (written directly).
        try redis.restart()
        let record = JournalRecord(version: "x", change: .availability(SetItemsAvailableRequest(itemIDs: [128], available: false)))
        try redis.connect().command([Array("XADD".utf8), Array("test:catalogue:synthetic".utf8), Array("*".utf8),
                                     Array("record".utf8), record.payload()])
        #expect(await eventually { (try? Self.health(pa)).map { $0.ready && $0.catalogueLog.first?.applied == 2 } ?? false })
        #expect(try Self.view(pa, [114, 121, 128]).hidden == [114, 128])
    }

    /// An upsert recorded on version 1 of an id that version 2's bundle has is left out when version
    /// 2 replays the stream (as with the local journal); the stream itself is never rewritten.
    @Test func aNewVersionReplaysTheStreamWithoutTheIDsItLearned() throws {
        let redis = try RedisProcess()
        var synthetic = SyntheticBundle()
        synthetic.addContentProjection(contentDim: 2)
        let bundle = try synthetic.load()
        let logger = Logger(label: "test")
        let log = CatalogueLog(address: try RedisAddress(parsing: redis.address()), logger: logger)
        let live = LiveCatalogues(stateDirectory: nil, log: log, logger: logger)
        let v1 = ServedModel(name: "m", version: "1", bundle: bundle, origin: .fixed)
        try live.attach(v1)
        let reply = try live.upsert(
            UpsertItemsRequest(items: [ItemContent(itemID: 128, textTokens: [2]), ItemContent(itemID: 5000, textTokens: [3])]), model: v1)
        #expect(reply.added == 1 && reply.replaced == 1 && reply.journalSequence == 1)
        #expect(v1.catalogue?.current.contentIDs == [128, 5000])
        let v2 = ServedModel(name: "m", version: "2", bundle: bundle, origin: .fixed)
        let fresh = LiveCatalogues(stateDirectory: nil, log: CatalogueLog(address: log.address, logger: logger), logger: logger)
        try fresh.attach(v2)
        #expect(v2.catalogue?.current.contentIDs == [5000])
        #expect(try redis.connect().command(["XLEN", "test:catalogue:m"]) == .integer(1))
    }

    @Test func theConfigurationChecksTheAddress() {
        var c = ServerConfiguration(bind: "tcp://127.0.0.1:0", modelPaths: ["m"])
        c.catalogueLog = "redis://127.0.0.1:6379/shop"
        #expect(c.validationProblem() == nil)
        c.catalogueLog = "127.0.0.1:6379"
        #expect(c.validationProblem()?.hasPrefix("--catalogue-log") == true)
        c.catalogueLog = "redis://127.0.0.1:6379"
        c.stateDirectory = "/tmp/state"
        #expect(c.validationProblem()?.contains("give one of them") == true)
    }
}
