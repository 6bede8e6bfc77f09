import Foundation
import Testing
import FuseRankTransport

@testable import FuseRankClient
@testable import fuserank

/// The `fuserank` CLI: its argument parsing and output, and the real binary against a real peer.
@Suite struct FuseRankCLITests {
    @Test func eventListParsesIdsTypesAndTimestamps() throws {
        let list = try #require(EventList(argument: "1, 2:click,3:PURCHASE:1700000000000,4:add-to-cart,5:6"))
        #expect(list.events(defaultType: .unspecified) == [
            Event(itemID: 1), Event(itemID: 2, type: .click),
            Event(itemID: 3, type: .purchase, timestampMs: 1_700_000_000_000),
            Event(itemID: 4, type: .addToCart), Event(itemID: 5, type: .rate),
        ])
        // Only events given without a type take the default.
        #expect(list.events(defaultType: .view).map(\.type) == [.view, .click, .purchase, .addToCart, .rate])
        #expect(EventList(argument: "1,x") == nil)
        #expect(EventList(argument: "1:flying") == nil)
        #expect(EventList(argument: "1:view:soon") == nil)
        #expect(EventList(argument: "1:view:2:3") == nil)
    }

    @Test func numberListsParseOrReject() throws {
        #expect(NumberList<Float>(argument: "0.5,-1,2e3")?.values == [0.5, -1, 2000])
        #expect(NumberList<Int64>(argument: "7, 8")?.values == [7, 8])
        #expect(NumberList<UInt32>(argument: "-1") == nil)
        #expect(NumberList<Int64>(argument: "1,two") == nil)
    }

    @Test func tableIsAlignedAndListsUnknownCandidates() {
        let reply = RankReply(
            items: [ScoredItem(itemID: 2858, score: 0.75), ScoredItem(itemID: 7, score: -1.5)],
            model: "default", modelVersion: "3", unknownCandidates: [99])
        #expect(RankOutput.table(reply) == """
            model default version 3, 2 items
            rank  item_id      score
               1     2858   0.750000
               2        7  -1.500000
            unknown candidates (not scored): 99

            """)
    }

    @Test func jsonHasRanksAndSortedKeys() throws {
        let reply = RankReply(items: [ScoredItem(itemID: 5, score: 0.5)], model: "m", modelVersion: "v")
        #expect(try RankOutput.json(reply)
            == #"{"items":[{"item_id":5,"rank":1,"score":0.5}],"model":"m","model_version":"v","unknown_candidates":[]}"# + "\n")
    }

    @Test func tableAndJSONNameTheEventsBehindEachItem() throws {
        let events = [Event(itemID: 1196), Event(itemID: 260), Event(itemID: 2571)]
        let reply = RankReply(
            items: [
                ScoredItem(itemID: 2858, score: 0.75, reasons: [
                    EventContribution(eventIndex: 2, weight: 1.25), EventContribution(eventIndex: 0, weight: 0.0625),
                ]),
                ScoredItem(itemID: 7, score: -1.5),
            ],
            model: "ml-1m", modelVersion: "3")
        #expect(RankOutput.table(reply, events: events) == """
            model ml-1m version 3, 2 items
            rank  item_id      score  because
               1     2858   0.750000  #2 2571 (+1.250), #0 1196 (+0.062)
               2        7  -1.500000  -

            """)
        #expect(try RankOutput.json(reply, events: events) == #"{"items":[{"item_id":2858,"rank":1,"reasons":[{"event_index":2,"item_id":2571,"weight":1.25},{"event_index":0,"item_id":1196,"weight":0.0625}],"score":0.75},{"item_id":7,"rank":2,"reasons":[],"score":-1.5}],"model":"ml-1m","model_version":"3","unknown_candidates":[]}"# + "\n")
    }

    /// Titles (GetItems) go beside the ids, and beside the events the reasons name.
    @Test func tableShowsTitles() {
        let events = [Event(itemID: 1196), Event(itemID: 2571)]
        let reply = RankReply(
            items: [ScoredItem(itemID: 2858, score: 0.75, reasons: [EventContribution(eventIndex: 1, weight: 1.25)]),
                    ScoredItem(itemID: 7, score: -1.5)],
            model: "ml-1m", modelVersion: "3")
        let titles: [Int64: String] = [2858: "American Beauty (1999)", 2571: "Matrix, The (1999)"]
        #expect(RankOutput.table(reply, events: events, titles: titles) == """
            model ml-1m version 3, 2 items
            rank  item_id  title                       score  because
               1     2858  American Beauty (1999)   0.750000  #1 Matrix, The (1999) (+1.250)
               2        7  -                       -1.500000  -

            """)
    }

    /// The shop's ids (GetItems' external_id) get their own column after the ids, `-` where an item has none.
    @Test func tableShowsExternalIDs() {
        let reply = RankReply(
            items: [ScoredItem(itemID: 17, score: 0.75), ScoredItem(itemID: 7, score: -1.5)], model: "shop", modelVersion: "3")
        #expect(RankOutput.table(reply, titles: [17: "WHITE HANGING HEART T-LIGHT HOLDER", 7: "POSTAGE"], externalIDs: [17: "85123A"]) == """
            model shop version 3, 2 items
            rank  item_id  external_id  title                                   score
               1       17  85123A       WHITE HANGING HEART T-LIGHT HOLDER   0.750000
               2        7  -            POSTAGE                             -1.500000

            """)
    }

    /// `fuserank rank` asks a model with titles for its items and prints the external ids when they have some.
    @Test func rankPrintsExternalIDsFromGetItems() throws {
        let server = try FakeRanker { call in
            switch call.header.method {
            case Method.getModelInfo.path: return [.ok(call, ModelInfo(name: "shop", hasTitles: true))]
            case Method.getItems.path:
                let ids = (try? GetItemsRequest(bytes: call.body))?.itemIDs ?? []
                let known: [Int64: ItemMetadata] = [
                    30: ItemMetadata(itemID: 30, known: true, title: "Lantern", externalID: "71053"),
                    40: ItemMetadata(itemID: 40, known: true, title: "Postage"),
                ]
                return [.ok(call, GetItemsReply(items: ids.map { known[$0] ?? ItemMetadata(itemID: $0) }))]
            default:
                return [.ok(call, RankReply(items: [ScoredItem(itemID: 30, score: 2), ScoredItem(itemID: 40, score: 1)], model: "shop", modelVersion: "1"))]
            }
        }
        let result = try runCLI(["rank", "--endpoint", server.endpoint, "--events", "5"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout == """
            model shop version 1, 2 items
            rank  item_id  external_id  title       score
               1       30  71053        Lantern  2.000000
               2       40  -            Postage  1.000000

            """)
        #expect(server.calls.map(\.header.method) == [Method.rank.path, Method.getModelInfo.path, Method.getItems.path])
    }

    @Test func rankExplainSendsExplainEventsAndPrintsTheReasons() throws {
        let server = try FakeRanker { call in
            guard let request = try? RankRequest(bytes: call.body) else { return [] }
            let reasons = (0..<Int(request.explainEvents)).map { EventContribution(eventIndex: UInt32($0), weight: Float(3 - $0)) }
            return [.ok(call, RankReply(items: [ScoredItem(itemID: 30, score: 2, reasons: reasons)], model: "m", modelVersion: "1"))]
        }
        let result = try runCLI(["rank", "--endpoint", server.endpoint, "--events", "11,12,13", "--explain", "3"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout == """
            model m version 1, 1 item
            rank  item_id     score  because
               1       30  2.000000  #0 11 (+3.000), #1 12 (+2.000), #2 13 (+1.000)

            """)
        let sent = try RankRequest(bytes: try #require(server.calls.first).body)
        #expect(sent.explainEvents == 3)
        // Without --explain nothing is asked for.
        _ = try runCLI(["rank", "--endpoint", server.endpoint, "--events", "11"])
        #expect(try RankRequest(bytes: try #require(server.calls.last).body).explainEvents == 0)
    }

    /// Runs the built `fuserank` binary.
    func runCLI(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let binary = Bundle.main.bundleURL.appendingPathComponent("fuserank")
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "no fuserank binary at \(binary.path)")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    @Test func rankPrintsATableFromARealPeer() throws {
        let server = try FakeRanker { call in
            guard let request = try? RankRequest(bytes: call.body) else { return [] }
            let items = request.candidates.prefix(Int(request.topK)).map { ScoredItem(itemID: $0, score: 2) }
            return [.ok(call, RankReply(items: items, model: "default", modelVersion: "1"))]
        }
        let result = try runCLI([
            "rank", "--endpoint", server.endpoint, "--events", "1,2:click", "--query", "comedy",
            "--candidates", "30,40,50", "--top-k", "2", "--exclude-seen", "--model", "default",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout == """
            model default version 1, 2 items
            rank  item_id     score
               1       30  2.000000
               2       40  2.000000

            """)
        let sent = try RankRequest(bytes: try #require(server.calls.first).body)
        #expect(sent.events == [Event(itemID: 1, type: .rate), Event(itemID: 2, type: .click)])
        #expect(sent.query == "comedy" && sent.candidates == [30, 40, 50] && sent.topK == 2)
        #expect(sent.excludeSeen && sent.model == "default")
    }

    @Test func serverErrorExitsOneWithCodeAndMessage() throws {
        let server = try FakeRanker { call in [.error(call, .notFound, "no model named \"x\"")] }
        let result = try runCLI(["rank", "--endpoint", server.endpoint, "--model", "x"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "error: NOT_FOUND: no model named \"x\"\n")
    }

    @Test func healthNotReadyExitsTwo() throws {
        let server = try FakeRanker { call in [.ok(call, HealthReply(ready: false, state: "draining", models: ["default"]))] }
        let result = try runCLI(["health", "--endpoint", server.endpoint])
        #expect(result.status == 2)
        #expect(result.stdout == "not ready (draining); models: default\n")
    }

    @Test func timeoutAndBadEndpointExitOne() throws {
        let silent = try FakeRanker { _ in [] }
        let timedOut = try runCLI(["info", "--endpoint", silent.endpoint, "--timeout-ms", "50", "--retries", "1"])
        #expect(timedOut.status == 1)
        #expect(timedOut.stderr == "error: DEADLINE_EXCEEDED: no reply within 50 ms (2 attempts)\n")
        let bad = try runCLI(["health", "--endpoint", "nowhere"])
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("error: INVALID_ARGUMENT: zmq_connect(nowhere) failed"))
    }

    @Test func severalEndpointsShareTheCalls() throws {
        let servers = try (0..<2).map { _ in try FakeRanker { call in [.ok(call, HealthReply(ready: true, state: "serving"))] } }
        let result = try runCLI([
            "bench", "--endpoint", servers[0].endpoint, "--endpoint", servers[1].endpoint,
            "--requests", "20", "--warmup", "0",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(servers.map(\.calls.count) == [10, 10])  // one call at a time: strictly in turn
    }

    @Test func badUsageExits64() throws {
        let result = try runCLI(["rank", "--events", "1,x"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--events"))
    }

    @Test func benchTimesEveryCallAndPrintsPercentiles() throws {
        let server = try FakeRanker { call in [.ok(call, HealthReply(ready: true, state: "serving"))] }
        let result = try runCLI([
            "bench", "--endpoint", server.endpoint, "--requests", "40", "--warmup", "5", "--concurrency", "3",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.hasPrefix("health: 40 calls, concurrency 3: p50 "))
        #expect(result.stdout.contains(" p99 ") && result.stdout.contains(" calls/s"))
        #expect(server.calls.count == 45)
    }

    @Test func benchReportPercentilesUseNearestRank() {
        let report = BenchReport(
            call: "rank", concurrency: 1, latencies: (1...100).map { .milliseconds($0) }, elapsed: .seconds(1))
        #expect(report.percentileMs(0.5) == 50)
        #expect(report.percentileMs(0.99) == 99)
        #expect(report.percentileMs(1) == 100)
        #expect(report.text == "rank: 100 calls, concurrency 1: p50 50.000 ms, p90 90.000 ms, p99 99.000 ms, max 100.000 ms, 100 calls/s")
    }
}

/// `fuserank keygen`: the files the server and clients read.
extension FuseRankCLITests {
    @Test func keygenWritesAPairAndNeverOverwrites() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-keygen-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try runCLI(["keygen", "--out", dir + "/server"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let pair = try CurveKey.readSecretKey(dir + "/server.key")
        #expect(try CurveKey.readPublicKey(dir + "/server.pub") == pair.publicKey)
        #expect(result.stdout == "wrote \(dir)/server.key and \(dir)/server.pub; public key \(pair.publicKey)\n")
        let again = try runCLI(["keygen", "--out", dir + "/server"])
        #expect(again.status == 1)
        #expect(again.stderr == "error: cannot write \(dir)/server.key: the file exists; remove it first\n")
        #expect(try CurveKey.readSecretKey(dir + "/server.key") == pair)
    }
}
