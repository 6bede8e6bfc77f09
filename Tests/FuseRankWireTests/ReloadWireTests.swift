import Testing

@testable import FuseRankWire

/// The ReloadModels messages and HealthReply's model versions round-trip, and an old HealthReply
/// (fields 1-3 only) still decodes, with no versions.
@Suite struct ReloadWireTests {
    @Test func reloadMessagesRoundTrip() throws {
        try WireRoundTripTests.roundTrip(ReloadModelsRequest())
        try WireRoundTripTests.roundTrip(ReloadModelsReply())
        try WireRoundTripTests.roundTrip(
            ReloadModelsReply(models: [
                ModelLoadStatus(model: "a", version: "3"),
                ModelLoadStatus(model: "b", version: "", failedVersion: "7", error: "config.json: not valid JSON"),
            ]))
        #expect(ReloadModelsRequest().encode().isEmpty)
    }

    @Test func healthVersionsRoundTrip() throws {
        let reply = HealthReply(
            ready: true, state: "serving", models: ["a", "b"],
            modelVersions: [ModelVersion(model: "a", version: "12"), ModelVersion(model: "b", version: "")])
        try WireRoundTripTests.roundTrip(reply)
        let old = HealthReply(ready: true, state: "serving", models: ["a"]).encode()
        #expect(try HealthReply(bytes: old).modelVersions.isEmpty)
    }
}
