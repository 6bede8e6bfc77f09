import Foundation
import FuseRankTestSupport
import FuseRankWire
import Testing

/// The built `fuserank-server` executable: ready line, a real request, exit 0 on SIGTERM/SIGINT.
@Suite struct ServerBinaryTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func servesThenExitsZeroOnSignal(signal: Int32) throws {
        let server = try ChildProcess("fuserank-server", arguments: [
            "--bind", "tcp://127.0.0.1:0", "--model", Fixtures.tiny, "--model", Fixtures.tinyNoImage, "--workers", "1",
        ], readyPrefix: "fuserank-server: serving on ")
        #expect(server.ready.hasPrefix("tcp://127.0.0.1:") && !server.ready.hasSuffix(":0"))
        let peer = try Peer(endpoint: server.ready)
        let health = try peer.call(.health, id: 1, body: [])
        #expect(try HealthReply(bytes: health.body) == HealthReply(
            ready: true, state: "serving", models: ["tiny", "tiny-noimage"],
            modelVersions: [ModelVersion(model: "tiny", version: "golden-1"), ModelVersion(model: "tiny-noimage", version: "golden-1")]))
        #expect(try peer.rank(RankRequest(topK: 4)).items.count == 4)
        #expect(server.stop(signal) == 0)
    }

    @Test func badArgumentsExitNonZero() throws {
        for arguments in [["--bind", "tcp://127.0.0.1:0"], ["--model", "/nonexistent/bundle"], ["--model", Fixtures.tiny, "--workers", "0"]] {
            #expect(try ChildProcess.run("fuserank-server", arguments: arguments) != 0, "\(arguments)")
        }
    }
}
