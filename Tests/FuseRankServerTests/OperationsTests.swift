import Foundation
import FuseRankClient
import FuseRankTransport
import FuseRankWire
import Testing

@testable import FuseRankServer

/// The operated server in process: CURVE through the Swift client, ReloadModels over the wire,
/// the metrics facade fed by the real request path, and the auth-failure log limit.
@Suite struct OperationsTests {
    @Test(.enabled(if: CurveKeyPair.isSupported)) func swiftClientOverCurve() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-curve-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let serverKeys = try CurveKeyPair.generate()
        let clientKeys = try CurveKeyPair.generate()
        try CurveKey.write(serverKeys, prefix: dir + "/server")
        try Data("# clients\n\(clientKeys.publicKey)\n".utf8).write(to: URL(fileURLWithPath: dir + "/allow"))
        let server = try TestServer(models: [Fixtures.tiny]) {
            $0.curveSecretKeyPath = dir + "/server.key"
            $0.curveAllowPath = dir + "/allow"
        }
        var options = FuseRankClientOptions(timeoutMs: 10_000, retry: .none)
        options.curve = CurveClientKeys(serverPublicKey: serverKeys.publicKey, client: clientKeys)
        let client = try FuseRankClient(endpoint: server.endpoint, options: options)
        defer { client.close() }
        #expect(try await client.health().ready)
        #expect(try await client.rank(events: [Event(itemID: 135)], topK: 3).items.count == 3)

        var strangerOptions = FuseRankClientOptions(timeoutMs: 300, retry: .none)
        strangerOptions.curve = CurveClientKeys(serverPublicKey: serverKeys.publicKey, client: try CurveKeyPair.generate())
        let stranger = try FuseRankClient(endpoint: server.endpoint, options: strangerOptions)
        defer { stranger.close() }
        do {
            _ = try await stranger.health()
            Issue.record("a client with an unknown key was served")
        } catch {
            #expect(error.code == .deadlineExceeded)
        }
        // libzmq reconnects the refused client on its own, so the count only has a lower bound.
        #expect(await eventuallyTrue { authFailures(server.server.metrics.exposition()) >= 1 })
    }

    @Test func badAllowlistIsABadKeysError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-curve-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try CurveKey.write(try CurveKeyPair.generate(), prefix: dir + "/server")
        try Data("nope\n".utf8).write(to: URL(fileURLWithPath: dir + "/allow"))
        var configuration = ServerConfiguration(bind: "tcp://127.0.0.1:0", modelPaths: [Fixtures.tiny])
        configuration.curveSecretKeyPath = dir + "/server.key"
        configuration.curveAllowPath = dir + "/allow"
        do {
            _ = try RankServer(configuration: configuration, logger: quietLogger)
            Issue.record("a bad allowlist was accepted")
        } catch let error as ServerError {
            guard case let .badKeys(reason) = error else { Issue.record("\(error)"); return }
            #expect(reason == "\(dir)/allow line 1: a CURVE key is 40 Z85 characters, this one has 4")
        }
        configuration.curveAllowPath = nil
        #expect(configuration.validationProblem() == "with --bind, --curve-secret-key needs --curve-allow (the bound socket runs CURVE)")
    }

    @Test func reloadModelsOverTheWireAndMetricsOfTheRequestPath() async throws {
        let folder = try RepositoryFolder()
        try folder.publish("m", "1")
        let server = try TestServer(models: [Fixtures.tinyNoImage]) {
            $0.modelRepositories = [folder.root]
            $0.repositoryPollMs = 0
        }
        let client = try FuseRankClient(endpoint: server.endpoint, options: FuseRankClientOptions(timeoutMs: 10_000, retry: .none))
        defer { client.close() }
        let health = try await client.health()
        #expect(health.models == ["tiny-noimage", "m"])
        #expect(health.modelVersions == [ModelVersion(model: "tiny-noimage", version: "golden-1"), ModelVersion(model: "m", version: "1")])
        try folder.publish("m", "2")
        try folder.publish("m", "3", broken: true)
        let reply = try await client.reloadModels()
        #expect(reply.models.map(\.model) == ["m", "tiny-noimage"])
        #expect(reply.models[0].version == "2" && reply.models[0].failedVersion == "3")
        #expect(reply.models[0].error.contains("weights.safetensors"))
        #expect(reply.models[1] == ModelLoadStatus(model: "tiny-noimage", version: "golden-1"))
        let ranked = try await client.rank(events: [Event(itemID: 135)], topK: 2, model: "m")
        #expect(ranked.model == "m" && ranked.modelVersion == "2")
        let info = try await client.modelInfo(model: "m")
        #expect(info.version == "2" && !info.isDefault)
        let text = server.server.metrics.exposition()
        #expect(text.contains(#"fuserank_requests_total{method="ReloadModels",model="",code="OK"} 1"#))
        #expect(text.contains(#"fuserank_requests_total{method="Rank",model="m",code="OK"} 1"#))
        #expect(text.contains(#"fuserank_requests_total{method="GetModelInfo",model="m",code="OK"} 1"#))
        #expect(text.contains(#"fuserank_model_loads_total{model="m",version="3",result="error"} 1"#))
        #expect(text.contains(#"fuserank_model_version_info{model="m",version="2"} 1"#))
    }

    @Test func authFailuresAreLoggedOncePerPeerPerInterval() {
        let log = AuthFailureLog(interval: .seconds(60))
        let t0 = ContinuousClock.now
        #expect(log.shouldLog(peer: "10.0.0.1", at: t0) == (true, 0))
        #expect(log.shouldLog(peer: "10.0.0.1", at: t0 + .seconds(30)) == (false, 0))
        #expect(log.shouldLog(peer: "10.0.0.1", at: t0 + .seconds(59)) == (false, 0))
        #expect(log.shouldLog(peer: "10.0.0.2", at: t0 + .seconds(59)) == (true, 0))
        #expect(log.shouldLog(peer: "10.0.0.1", at: t0 + .seconds(61)) == (true, 2))
    }
}

/// `fuserank_auth_failures_total` in a scrape.
func authFailures(_ text: String) -> Double {
    for line in text.split(separator: "\n") where line.hasPrefix("fuserank_auth_failures_total ") {
        return Double(line.split(separator: " ")[1]) ?? 0
    }
    return 0
}

/// Polls a condition on an observable state (10 s at most).
func eventuallyTrue(_ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return true
}

/// Liveness before readiness: the socket is bound before the models load.
@Suite struct ReadinessTests {
    @Test func healthAnswersWhileTheModelsLoad() throws {
        var configuration = ServerConfiguration(bind: "tcp://127.0.0.1:0", modelPaths: [Fixtures.tiny])
        configuration.workers = 1
        let server = try RankServer(configuration: configuration, logger: quietLogger)
        let loading = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        server.beforeInitialLoad = {
            loading.signal()
            release.wait()
        }
        let started = DispatchSemaphore(value: 0)
        Thread {
            _ = try? server.start()
            started.signal()
        }.start()
        loading.wait()  // the loader is held before its first load; the socket is bound
        let peer = try Peer(endpoint: try #require(server.endpoint))
        try peer.send(Method.health.path, id: 1, body: HealthRequest().encode())
        let health = try peer.receive()
        #expect(try HealthReply(bytes: health.body) == HealthReply(ready: false, state: "starting"))
        try peer.send(Method.rank.path, id: 2, body: RankRequest(events: [Event(itemID: 135)]).encode())
        #expect(try peer.receive().header.code == .unavailable)
        release.signal()
        started.wait()
        try peer.send(Method.health.path, id: 3, body: HealthRequest().encode())
        let ready = try HealthReply(bytes: try peer.receive().body)
        #expect(ready.ready && ready.state == "serving" && ready.models == ["tiny"])
        server.stop()
        server.waitUntilStopped()
    }
}
