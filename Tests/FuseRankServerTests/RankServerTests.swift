import FuseRankTestSupport
import Foundation
import FuseRankServer
import FuseRankWire
import Testing

/// Rank, Health and GetModelInfo over real ZeroMQ sockets against the golden bundles.
@Suite struct RankServerTests {
    /// Every golden case, sent over the wire, comes back as the PyTorch reference ranked it.
    @Test func rankMatchesTheReferenceOverTheWire() throws {
        let golden = try GoldenCases.load(Fixtures.tiny)
        let server = try TestServer()
        let peer = try server.peer()
        for (n, testCase) in golden.cases.enumerated() {
            let reply = try peer.rank(testCase.query.request(), id: UInt64(n + 100))
            #expect(reply.model == "tiny" && reply.modelVersion == "golden-1")
            #expect(reply.items.map(\.itemID) == testCase.items.map(\.itemId), "\(testCase.name)")
            for (got, want) in zip(reply.items, testCase.items) {
                #expect(abs(got.score - want.score) <= golden.tolerance, "\(testCase.name): item \(want.itemId)")
                // Explanations (explain_* cases): the reference's events, order and weights.
                let reasons = want.reasons ?? []
                #expect(got.reasons.map(\.eventIndex) == reasons.map { UInt32($0.eventIndex) }, "\(testCase.name): reasons")
                #expect(zip(got.reasons, reasons).allSatisfy { abs($0.weight - $1.weight) <= golden.tolerance })
            }
            #expect(reply.unknownCandidates == testCase.unknownCandidates, "\(testCase.name)")
        }
    }

    @Test func itemsAreSortedAndCutToTopK() throws {
        let server = try TestServer()
        let peer = try server.peer()
        let all = try peer.rank(RankRequest(events: [Event(itemID: 85320, type: .click)], topK: 1000))
        #expect(all.items.count == 40, "the whole catalogue of 40 items")
        #expect(zip(all.items, all.items.dropFirst()).allSatisfy { $0.score >= $1.score })
        let top5 = try peer.rank(RankRequest(events: [Event(itemID: 85320, type: .click)], topK: 5))
        #expect(top5.items == Array(all.items.prefix(5)))
    }

    /// `top_k` 0 with no candidates uses the server's default, documented in docs/wire.md.
    @Test func catalogueTopKZeroUsesTheServerDefault() throws {
        let server = try TestServer { $0.defaultCatalogueTopK = 7 }
        let peer = try server.peer()
        #expect(try peer.rank(RankRequest()).items.count == 7)
        // With candidates, 0 means all of them.
        let candidates: [Int64] = [85320, 7603, 31545, 55643, 76415, 42446, 11266, 76749, 1, 2]
        let reply = try peer.rank(RankRequest(candidates: candidates))
        #expect(reply.items.count == 8)
        #expect(reply.unknownCandidates == [1, 2])
    }

    /// The free-text query is tokenized with the model's vocabulary and appended after text_tokens:
    /// the same words as ids give the same ranking.
    @Test func queryTextIsTokenizedWithTheModelVocabulary() throws {
        let vocab = try String(contentsOfFile: Fixtures.tiny + "/vocab.txt", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let words = vocab.enumerated().filter { $0.offset >= 2 && !$0.element.isEmpty }.prefix(2)
        #expect(words.count == 2)
        let ids = words.map { UInt32($0.offset) }
        let text = words.map { $0.element.uppercased() }.joined(separator: ", ")
        let server = try TestServer()
        let peer = try server.peer()
        let byIDs = try peer.rank(RankRequest(textTokens: ids, topK: 40))
        let byText = try peer.rank(RankRequest(topK: 40, query: text))
        let mixed = try peer.rank(RankRequest(textTokens: [ids[0]], topK: 40, query: words.map(\.element)[1]))
        let none = try peer.rank(RankRequest(topK: 40))
        #expect(byText == byIDs)
        #expect(mixed == byIDs)
        #expect(none != byIDs, "the text changes the ranking")
    }

    @Test func requestsSelectTheirModel() throws {
        let server = try TestServer()
        let peer = try server.peer()
        let noImage = try peer.rank(RankRequest(topK: 3, model: "tiny-noimage"))
        #expect(noImage.model == "tiny-noimage")
        #expect(try peer.rank(RankRequest(topK: 3)).model == "tiny")
        #expect(try peer.rank(RankRequest(topK: 3, model: "tiny")).model == "tiny")
    }

    @Test func healthSaysServingAndListsModels() throws {
        let server = try TestServer()
        let peer = try server.peer()
        let reply = try peer.call(.health, id: 77, body: HealthRequest().encode())
        #expect(reply.header == ReplyHeader(requestID: 77, code: .ok))
        #expect(try HealthReply(bytes: reply.body) == HealthReply(
            ready: true, state: "serving", models: ["tiny", "tiny-noimage"],
            modelVersions: [ModelVersion(model: "tiny", version: "golden-1"), ModelVersion(model: "tiny-noimage", version: "golden-1")]))
        #expect(server.server.state == .serving)
    }

    @Test func modelInfoDescribesTheBundle() throws {
        let server = try TestServer()
        let peer = try server.peer()
        let reply = try peer.call(.getModelInfo, id: 3, body: ModelInfoRequest().encode())
        #expect(reply.header.code == .ok)
        #expect(
            try ModelInfo(bytes: reply.body)
                == ModelInfo(
                    name: "tiny", version: "golden-1", imageDim: 6, textVocabSize: 14, numItems: 40, maxEvents: 8,
                    maxTextTokens: 4, maxImages: 2, dModel: 16, nLayers: 2, isDefault: true))
        let other = try peer.call(.getModelInfo, id: 4, body: ModelInfoRequest(model: "tiny-noimage").encode())
        let info = try ModelInfo(bytes: other.body)
        #expect(info.name == "tiny-noimage" && info.imageDim == 0 && !info.isDefault)
    }

    /// A REQ-style envelope with several routing hops (a proxy in between) is echoed whole.
    @Test func envelopeIsEchoed() throws {
        let server = try TestServer()
        let peer = try server.peer()
        try peer.socket.send([[0x01, 0x02], [0x03], [], RequestHeader(method: .health, requestID: 5).encode(), []])
        #expect(try peer.hasMessage(timeoutMs: 10_000))
        let frames = try #require(try peer.socket.receiveMultipart(dontWait: true))
        #expect(frames.count == 5)
        #expect(Array(frames.prefix(3)) == [[0x01, 0x02], [0x03], []])
        #expect(try ReplyHeader(bytes: frames[3]).requestID == 5)
    }

    /// Requests queued when the stop comes are still ranked, and every request gets exactly one
    /// reply. A catalogue of 200,000 items and one worker ranking one request at a time keep
    /// most of the 100 requests queued when the stop comes.
    @Test func stopDrainsQueuedRequestsAndStops() throws {
        var config = SyntheticBundle.tinyConfig(imageDim: 0)
        config.dModel = 32
        config.numItems = 200_000
        let big = SyntheticBundle(config: config, seed: 5)
        let folder = try big.write()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let server = try TestServer(models: [folder]) {
            $0.workers = 1
            $0.maxBatch = 1
            $0.defaultTimeoutMs = 60_000
        }
        let peer = try server.peer()
        let total = 100
        for id in 1...total { try peer.send(Method.rank.path, id: UInt64(id), body: RankRequest(topK: 40).encode()) }
        var ids = Set<UInt64>()
        // The first reply proves the work is under way; then stop with the rest in flight.
        let first = try peer.receive()
        #expect(first.header.code == .ok)
        ids.insert(first.header.requestID)
        server.server.stop()
        var okAfterStop = 0
        for _ in 2...total {
            let reply = try peer.receive(timeoutMs: 60_000)
            #expect(reply.header.code == .ok || reply.header.code == .unavailable)
            if reply.header.code == .ok { okAfterStop += 1 }
            #expect(ids.insert(reply.header.requestID).inserted, "one reply per request")
        }
        server.server.waitUntilStopped()
        #expect(server.server.state == .stopped)
        #expect(ids == Set((1...total).map(UInt64.init)))
        #expect(try !peer.hasMessage(timeoutMs: 50), "no extra reply")
        let inFlight = try #require(server.server.inFlightWhenDraining)
        #expect(inFlight > 0, "requests were queued when the stop came")
        #expect(okAfterStop >= inFlight, "each request queued at the stop was ranked")
    }
}

/// The server's session cache: requests of one session reuse its states over the wire.
@Suite struct ServerSessionCacheTests {
    @Test func sessionRequestsHitTheCacheAndMatchPlainOnes() throws {
        let server = try TestServer()
        let peer = try server.peer()
        var events: [Event] = []
        for step in 1...6 {
            events.append(Event(itemID: 85320 + Int64(step), type: .view, timestampMs: 1_700_000_000_000 + Int64(step) * 60_000))
            let cached = try peer.rank(RankRequest(events: events, topK: 5, sessionID: "s-1"), id: UInt64(2 * step))
            let plain = try peer.rank(RankRequest(events: events, topK: 5), id: UInt64(2 * step + 1))
            #expect(cached.items.map(\.itemID) == plain.items.map(\.itemID))
            for (a, b) in zip(cached.items, plain.items) { #expect(abs(a.score - b.score) <= 1e-5 * max(1, abs(b.score))) }
        }
        let stats = try #require(server.server.sessionCacheStatistics)
        #expect(stats.misses == 1 && stats.hits == 5 && stats.sessions == 1)
        // The same counts in the Prometheus scrape (twice: counters advance by differences only).
        for _ in 0..<2 {
            let scrape = server.server.metrics.exposition()
            #expect(scrape.contains("fuserank_session_cache_hits_total 5"), "\(scrape)")
            #expect(scrape.contains("fuserank_session_cache_misses_total 1"))
            #expect(scrape.contains("fuserank_session_cache_evictions_total 0"))
            #expect(scrape.contains("fuserank_session_cache_sessions 1"))
        }
    }

    @Test func aZeroBudgetTurnsTheCacheOff() throws {
        let server = try TestServer { $0.sessionCacheMB = 0 }
        let peer = try server.peer()
        _ = try peer.rank(RankRequest(events: [Event(itemID: 85320)], topK: 5, sessionID: "s-1"))
        #expect(server.server.sessionCacheStatistics == nil)
    }
}
