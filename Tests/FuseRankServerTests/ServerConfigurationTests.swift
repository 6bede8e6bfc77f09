import FuseRankServer
import FuseRankTransport
import Testing

/// Where a server listens: `--bind`, `--connect` (brokers), or both; never neither.
@Suite struct ServerConfigurationTests {
    @Test func bindConnectOrBoth() {
        #expect(ServerConfiguration(bind: "tcp://127.0.0.1:0", modelPaths: ["m"]).validationProblem() == nil)
        #expect(ServerConfiguration(bind: nil, connect: ["tcp://10.0.0.1:5556"], modelPaths: ["m"]).validationProblem() == nil)
        #expect(ServerConfiguration(bind: "tcp://127.0.0.1:0", connect: ["tcp://b:1", "tcp://c:1"], modelPaths: ["m"])
            .validationProblem() == nil)
        #expect(ServerConfiguration(bind: nil, modelPaths: ["m"]).validationProblem() == "give --bind, --connect, or both")
        #expect(ServerConfiguration(bind: nil, connect: ["tcp://b:1", "tcp://b:1"], modelPaths: ["m"]).validationProblem()
            == "each --connect endpoint may be given once")
    }

    @Test func heartbeatsAreOnByDefaultAndChecked() {
        #expect(ServerConfiguration.defaults.heartbeat == HeartbeatSettings(intervalMs: 250, timeoutMs: 1000, ttlMs: 1000))
        var configuration = ServerConfiguration(bind: "tcp://127.0.0.1:0", modelPaths: ["m"])
        configuration.heartbeat = HeartbeatSettings(intervalMs: 500, timeoutMs: 100, ttlMs: 1000)
        #expect(configuration.validationProblem()?.contains("--heartbeat-timeout-ms") == true)
        configuration.heartbeat = .off
        #expect(configuration.validationProblem() == nil)
    }

    /// --admin-allow needs CURVE; --admin-insecure is for a server without it.
    @Test func adminOptionsMatchCurve() {
        var c = ServerConfiguration(bind: "tcp://127.0.0.1:0", modelPaths: ["m"])
        c.adminInsecure = true
        #expect(c.validationProblem() == nil)
        c.curveSecretKeyPath = "k"
        c.curveAllowPath = "a"
        #expect(c.validationProblem()?.contains("--admin-insecure is for a server without CURVE") == true)
        c.adminInsecure = false
        c.adminAllowPath = "admins"
        #expect(c.validationProblem() == nil)
        c.curveSecretKeyPath = nil
        c.curveAllowPath = nil
        #expect(c.validationProblem()?.contains("--admin-allow lists CURVE keys") == true)
    }
}
