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

    /// The key pair serves the bound socket (with --curve-allow) and the broker links (with
    /// --broker-key); each needs the other half, and a bound socket with a key needs its allowlist.
    @Test func curveOptionsForTheBoundSocketAndTheBrokerLinks() {
        var links = ServerConfiguration(bind: nil, connect: ["tcp://b:1"], modelPaths: ["m"])
        links.curveSecretKeyPath = "k"
        #expect(links.validationProblem()?.contains("give --broker-key") == true)
        links.brokerKeyPath = "broker.pub"
        #expect(links.validationProblem() == nil)
        links.adminAllowPath = "admins"
        #expect(links.validationProblem() == nil)  // admin keys through an authenticated broker
        links.curveSecretKeyPath = nil
        #expect(links.validationProblem()?.contains("give --curve-secret-key") == true)

        var both = ServerConfiguration(bind: "tcp://127.0.0.1:0", connect: ["tcp://b:1"], modelPaths: ["m"])
        both.curveSecretKeyPath = "k"
        both.brokerKeyPath = "broker.pub"
        #expect(both.validationProblem()?.contains("needs --curve-allow") == true)
        both.curveAllowPath = "a"
        #expect(both.validationProblem() == nil)

        var bound = ServerConfiguration(bind: "tcp://127.0.0.1:0", modelPaths: ["m"])
        bound.curveSecretKeyPath = "k"
        bound.curveAllowPath = "a"
        bound.brokerKeyPath = "broker.pub"
        #expect(bound.validationProblem()?.contains("give --connect too") == true)
        var noBind = ServerConfiguration(bind: nil, connect: ["tcp://b:1"], modelPaths: ["m"])
        noBind.curveAllowPath = "a"
        #expect(noBind.validationProblem()?.contains("give --bind too") == true)
    }
}
