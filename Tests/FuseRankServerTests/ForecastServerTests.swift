import Foundation
import FuseRankModel
import FuseRankTestSupport
import FuseRankWire
import Testing

@testable import FuseRankServer

/// `Forecast` over the wire (in-process server, real sockets): parity with PyTorch on the golden
/// forecaster (a forecaster-only bundle), request order and item ids, every error status, and
/// FAILED_PRECONDITION both ways between recommender and forecaster-only bundles.
@Suite(.serialized) struct ForecastServerTests {
    static let forecaster = Fixtures.root.appendingPathComponent("golden/forecaster").path
    static let forecasterWeek = Fixtures.root.appendingPathComponent("golden/forecaster-week").path

    /// A server with the golden forecaster (default, served as "forecaster") and `tiny`.
    static func server() throws -> TestServer {
        try TestServer(models: [forecaster, Fixtures.tiny])
    }

    static func series(_ c: ForecastCaseFile.Case) -> SeriesHistory {
        SeriesHistory(itemID: c.itemId, startMs: c.startMs, values: c.series)
    }

    static func forecast(_ peer: Peer, _ request: ForecastRequest, id: UInt64) throws -> ForecastReply {
        let reply = try peer.call(.forecast, id: id, body: request.encode())
        guard reply.header.code == .ok else {
            throw PeerError(description: "Forecast failed: \(reply.header.code.name): \(reply.header.message)")
        }
        #expect(reply.header.requestID == id)
        return try ForecastReply(bytes: reply.body)
    }

    @Test(arguments: [forecaster, forecasterWeek])
    func forecastOverTheWireMatchesPyTorch(_ set: String) throws {
        let file = try ForecastCaseFile.load(URL(fileURLWithPath: set))
        let server = try TestServer(models: [set])
        defer { server.stop() }
        let peer = try server.peer()
        for (i, c) in file.cases.enumerated() {
            let reply = try Self.forecast(
                peer, ForecastRequest(series: [Self.series(c)], horizon: Int32(c.horizon), quantiles: c.quantiles), id: UInt64(i + 1))
            let got = try #require(reply.forecasts.first)
            #expect(reply.forecasts.count == 1 && got.itemID == c.itemId)
            #expect(got.mean.count == c.horizon)
            #expect(zip(got.mean, c.mean).allSatisfy { ForecastCaseFile.close($0, $1) }, "item \(c.itemId): mean \(got.mean), PyTorch \(c.mean)")
            #expect(got.quantiles.map(\.quantile) == c.quantilesOut.map(\.quantile), "item \(c.itemId): levels")
            for (level, want) in zip(got.quantiles, c.quantilesOut) {
                #expect(zip(level.values, want.values).allSatisfy { ForecastCaseFile.close($0, $1) },
                        "item \(c.itemId) q\(want.quantile): \(level.values), PyTorch \(want.values)")
            }
        }
    }

    /// All the golden series in one request, reversed and with a repeated id: the reply keeps the
    /// request's order and echoes every id; each forecast equals the series' own request.
    @Test func repliesKeepTheRequestOrderAndEchoItemIDs() throws {
        let file = try ForecastCaseFile.load(URL(fileURLWithPath: Self.forecaster))
        let server = try Self.server()
        defer { server.stop() }
        let peer = try server.peer()
        var series = file.cases.reversed().map(Self.series)
        series.append(SeriesHistory(itemID: series[0].itemID, startMs: series[0].startMs, values: [1, 2, 3]))
        let reply = try Self.forecast(peer, ForecastRequest(series: series, horizon: 14), id: 1)
        #expect(reply.forecasts.map(\.itemID) == series.map(\.itemID))
        for (i, one) in series.enumerated() {
            let alone = try Self.forecast(peer, ForecastRequest(series: [one], horizon: 14), id: UInt64(10 + i))
            let together = reply.forecasts[i]
            #expect(zip(together.mean, alone.forecasts[0].mean).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
            #expect(together.quantiles.map(\.quantile) == [0.1, 0.5, 0.9], "the default levels")
        }
    }

    @Test func invalidRequestsNameTheField() throws {
        let server = try Self.server()
        defer { server.stop() }
        let peer = try server.peer()
        let one = [SeriesHistory(itemID: 1, startMs: 1_291_161_600_000, values: [1, .nan, 3])]
        let cases: [(ForecastRequest, String)] = [
            (ForecastRequest(series: one, horizon: 0), "horizon is 0"),
            (ForecastRequest(series: one, horizon: -1), "horizon is -1"),
            (ForecastRequest(series: one, horizon: 15), "horizon is 15, the model forecasts 1...14"),
            (ForecastRequest(series: [], horizon: 7), "series is empty"),
            (ForecastRequest(series: one + [SeriesHistory(itemID: 2)], horizon: 7), "series[1].values is empty"),
            (ForecastRequest(series: [SeriesHistory(itemID: 3, values: [2, .infinity])], horizon: 7), "series[0].values[1] is infinite"),
            (ForecastRequest(series: one, horizon: 7, quantiles: [0.5, 1]), "quantiles[1]"),
            (ForecastRequest(series: one, horizon: 7, quantiles: [0]), "quantiles[0]"),
            (ForecastRequest(series: one, horizon: 7, quantiles: [-0.2]), "quantiles[0]"),
            (ForecastRequest(series: one, horizon: 7, quantiles: [0.5, .nan]), "quantiles[1]"),
            (ForecastRequest(series: [SeriesHistory(startMs: .min, values: [1])], horizon: 7), "series[0].start_ms"),
            (ForecastRequest(series: [SeriesHistory](repeating: one[0], count: ForecastQuery.maxSeries + 1), horizon: 7),
             "at most \(ForecastQuery.maxSeries)"),
        ]
        for (i, (request, field)) in cases.enumerated() {
            let header = try peer.expectError(.invalidArgument, method: Method.forecast.path, id: UInt64(i + 1), body: request.encode())
            #expect(header.message.contains(field), "\(header.message)")
        }
        try peer.expectError(.invalidArgument, method: Method.forecast.path, id: 90, body: [0xFF, 0xFF, 0xFF])  // undecodable
        let unknown = try peer.expectError(
            .notFound, method: Method.forecast.path, id: 91, body: ForecastRequest(model: "nope", series: one, horizon: 7).encode())
        #expect(unknown.message.contains("\"nope\""))
        // NaN values are missing, not errors.
        #expect(try Self.forecast(peer, ForecastRequest(series: [SeriesHistory(values: [.nan])], horizon: 7), id: 92).forecasts.count == 1)
    }

    /// A forecaster-only bundle answers Forecast, GetModelInfo (recommender fields 0), GetItems
    /// and Health; Rank on it is FAILED_PRECONDITION. A recommender bundle without forecaster.json
    /// answers Forecast with FAILED_PRECONDITION.
    @Test func failedPreconditionBothWays() throws {
        let server = try Self.server()
        defer { server.stop() }
        let peer = try server.peer()
        let health = try HealthReply(bytes: peer.call(.health, id: 1, body: []).body)
        #expect(health.models == ["forecaster", "tiny"])
        let rank = try peer.expectError(.failedPrecondition, id: 2, body: RankRequest(topK: 3, model: "forecaster").encode())
        #expect(rank.message.contains("forecaster-only") && rank.message.contains("\"forecaster\""), "\(rank.message)")
        try peer.expectError(.failedPrecondition, id: 3, body: RankRequest(topK: 3).encode())  // the default model
        let series = [SeriesHistory(itemID: 4, values: [1, 2])]
        let forecast = try peer.expectError(
            .failedPrecondition, method: Method.forecast.path, id: 4, body: ForecastRequest(model: "tiny", series: series, horizon: 3).encode())
        #expect(forecast.message.contains("no forecaster") && forecast.message.contains("\"tiny\""), "\(forecast.message)")
        #expect(try peer.rank(RankRequest(topK: 3, model: "tiny"), id: 5).items.count == 3)
        let info = try ModelInfo(bytes: peer.call(.getModelInfo, id: 6, body: ModelInfoRequest().encode()).body)
        #expect(info.name == "forecaster" && info.isDefault && info.numItems == 0 && !info.hasTitles)
        let items = try GetItemsReply(bytes: peer.call(.getItems, id: 7, body: GetItemsRequest(itemIDs: [85123]).encode()).body)
        #expect(items.items == [ItemMetadata(itemID: 85123)])
        #expect(try Self.forecast(peer, ForecastRequest(series: series, horizon: 3), id: 8).forecasts[0].mean.count == 3)
        let text = server.server.metrics.exposition()
        #expect(text.contains(#"fuserank_requests_total{method="Forecast",model="forecaster",code="OK"} 1"#), "\(text)")
        #expect(text.contains(#"fuserank_requests_total{method="Forecast",model="tiny",code="FAILED_PRECONDITION"} 1"#))
        #expect(text.contains(#"fuserank_forecast_series_total{model="forecaster"} 1"#))
    }

    /// A recommender bundle with forecaster.json and forecaster.safetensors beside its own files
    /// answers both Rank and Forecast; a repository version that is forecaster-only loads too.
    @Test func aRecommenderWithAForecasterAndARepositoryForecasterServeBoth() throws {
        let folder = try RepositoryFolder()
        let both = folder.root + "/both/1"
        try FileManager.default.createDirectory(atPath: both, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.tiny) + ["forecaster.json", "forecaster.safetensors"] {
            let from = (name.hasPrefix("forecaster") ? Self.forecaster : Fixtures.tiny) + "/" + name
            try FileManager.default.copyItem(atPath: from, toPath: both + "/" + name)
        }
        let alone = folder.root + "/demand/3"
        try FileManager.default.createDirectory(atPath: alone, withIntermediateDirectories: true)
        for name in ["forecaster.json", "forecaster.safetensors"] {
            try FileManager.default.copyItem(atPath: Self.forecasterWeek + "/" + name, toPath: alone + "/" + name)
        }
        let server = try TestServer(models: [Fixtures.tinyNoImage]) {
            $0.modelRepositories = [folder.root]
            $0.repositoryPollMs = 0
        }
        defer { server.stop() }
        let peer = try server.peer()
        let series = [SeriesHistory(itemID: 4, startMs: 1_291_161_600_000, values: [1, 2, 5, 0])]
        #expect(try peer.rank(RankRequest(topK: 2, model: "both"), id: 1).items.count == 2)
        #expect(try Self.forecast(peer, ForecastRequest(model: "both", series: series, horizon: 14), id: 2).forecasts[0].mean.count == 14)
        let weekly = try Self.forecast(peer, ForecastRequest(model: "demand", series: series, horizon: 8), id: 3)
        #expect(weekly.forecasts[0].quantiles.map(\.quantile) == [0.5])
        try peer.expectError(.failedPrecondition, id: 4, body: RankRequest(topK: 2, model: "demand").encode())
    }

    /// A Forecast job whose deadline passed while it waited gets DEADLINE_EXCEEDED from the worker.
    @Test func expiredForecastGetsDeadlineExceeded() throws {
        let harness = try WorkerTests.Harness(maxBatch: 4)
        harness.start()
        defer { harness.stop() }
        let contents = try BundleContents(path: Self.forecaster)
        let model = ServedModel(name: "forecaster", version: "", contents: contents, origin: .fixed)
        model.engines.build(contents, shape: ModelEngines.Shape(workers: 1, maxBatch: 4))  // as the load path does
        let forecaster = try #require(contents.forecaster)
        let query = try forecaster.validate(ForecastQuery(series: [ForecastSeries(startMs: 0, values: [1])], horizon: 2))
        for (id, deadline) in [(UInt64(1), ContinuousClock.now - .milliseconds(1)), (2, .now + .seconds(60))] {
            #expect(harness.queue.push(ForecastJob(
                socket: 0, envelope: [[UInt8(id)], []], requestID: id, model: model, forecaster: forecaster, query: query,
                itemIDs: [42], deadline: deadline, received: .now)))
        }
        var replies: [UInt64: Reply] = [:]
        for _ in 0..<2 {
            let r = try harness.reply()
            replies[r.requestID] = r
        }
        #expect(replies[1]?.code == .deadlineExceeded && replies[1]?.body.isEmpty == true)
        #expect(replies[1]?.envelope == [[1], []])
        let ok = try ForecastReply(bytes: replies[2]?.body ?? [])
        #expect(ok.forecasts.map(\.itemID) == [42] && ok.forecasts[0].mean.count == 2)
    }

    /// A full queue and draining refuse Forecast with UNAVAILABLE; a queued job carries the
    /// deadline and the request's ids; a request above --max-message-bytes is RESOURCE_EXHAUSTED.
    @Test func queueDrainingDeadlineAndSizeLimits() throws {
        let harness = try FrontEndTests.Harness(queueCapacity: 1, models: [Fixtures.tiny, Self.forecaster])
        let request = ForecastRequest(
            model: "forecaster", series: [SeriesHistory(itemID: 9, values: [1, 2]), SeriesHistory(itemID: 8, values: [3])], horizon: 4)
        let before = ContinuousClock.now
        let first = try harness.call(.forecast, id: 1, body: request.encode())
        #expect(first.queued && first.reply == nil)
        let refused = try harness.call(.forecast, id: 2, body: request.encode())
        #expect(!refused.queued && refused.reply?.code == .unavailable && refused.reply?.message.contains("overloaded") == true)
        guard case let .forecast(job)? = harness.queue.take(maxBatch: 8) else {
            Issue.record("a Forecast job is taken alone")
            return
        }
        #expect(job.requestID == 1 && job.itemIDs == [9, 8] && job.query.query.horizon == 4)
        #expect(job.deadline >= before + .milliseconds(1000) && job.deadline <= ContinuousClock.now + .milliseconds(1000))
        harness.control.transition(to: .draining)
        let draining = try harness.call(.forecast, id: 3, body: request.encode())
        #expect(!draining.queued && draining.reply?.code == .unavailable && draining.reply?.message.contains("draining") == true)

        let server = try TestServer(models: [Self.forecaster]) { $0.maxMessageBytes = 4096 }
        defer { server.stop() }
        let peer = try server.peer()
        let big = ForecastRequest(series: [SeriesHistory(itemID: 1, values: [Float](repeating: 1, count: 2000))], horizon: 3)
        let header = try peer.expectError(.resourceExhausted, method: Method.forecast.path, id: 4, body: big.encode())
        #expect(header.message.contains("4096"))
    }

    /// Forecast and Rank jobs share the queue in order: a Forecast job is taken alone, Rank jobs
    /// of one model batch around it.
    @Test func forecastJobsTakeTheirTurnInTheQueue() throws {
        let tiny = try ModelBundle(path: Fixtures.tiny)
        let contents = try BundleContents(path: Self.forecaster)
        let forecaster = try #require(contents.forecaster)
        let model = ServedModel(name: "forecaster", version: "", contents: contents, origin: .fixed)
        let query = try forecaster.validate(ForecastQuery(series: [ForecastSeries(startMs: 0, values: [1])], horizon: 2))
        func forecastJob(_ id: UInt64) -> ForecastJob {
            ForecastJob(socket: 0, envelope: [[], []], requestID: id, model: model, forecaster: forecaster, query: query,
                        itemIDs: [1], deadline: .now + .seconds(60), received: .now)
        }
        let queue = WorkQueue(capacity: 8)
        #expect(queue.push(WorkQueueTests.job(1, tiny)))
        #expect(queue.push(forecastJob(2)))
        #expect(queue.push(WorkQueueTests.job(3, tiny)))
        #expect(queue.push(forecastJob(4)))
        var taken: [[UInt64]] = []
        while queue.count > 0, let work = queue.take(maxBatch: 8) {
            switch work {
            case let .rank(batch): taken.append(batch.map(\.requestID))
            case let .forecast(job): taken.append([job.requestID])
            }
        }
        // The oldest Rank job takes the other waiting Rank job of its model along.
        #expect(taken == [[1, 3], [2], [4]])
    }
}
