import Foundation
import Testing

@testable import FuseRankClient

/// The client's admin calls against the real server: hide and show an item of the tiny model (a
/// `--model` bundle, journalled in `--state-dir`); UpsertItems on a model without a content
/// projection is FAILED_PRECONDITION; without `--admin-insecure` both are PERMISSION_DENIED.
@Suite(.serialized) struct LiveCatalogueClientTests {
    @Test func hideShowAndRefusals() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let server = try ServerProcess(arguments: ["--admin-insecure", "--state-dir", state])
        let client = try FuseRankClient(endpoint: server.endpoint, options: FuseRankClientOptions(timeoutMs: 5000))
        let top = try await client.rank(topK: 3).items.map(\.itemID)
        #expect(try await client.setItemsAvailable([top[0]], available: false) == 1)
        #expect(try await client.rank(topK: 2).items.map(\.itemID) == Array(top[1...2]))
        let listed = try await client.rank(candidates: [top[0], top[1]], topK: 0)
        #expect(listed.items.map(\.itemID) == [top[1]] && listed.unavailableCandidates == [top[0]])
        try await client.setItemsAvailable([top[0]], available: true)
        #expect(try await client.rank(topK: 3).items.map(\.itemID) == top)
        let noProjection = await #expect(throws: FuseRankClientError.self) {
            try await client.upsertItems([ItemContent(itemID: 77, textTokens: [2])])
        }
        #expect(noProjection?.code == .failedPrecondition)
        #expect(FileManager.default.fileExists(atPath: state + "/tiny/catalogue.journal"))
        client.close()
        #expect(server.terminate() == 0)

        let closed = try ServerProcess()
        let refused = try FuseRankClient(endpoint: closed.endpoint, options: FuseRankClientOptions(timeoutMs: 5000))
        let denied = await #expect(throws: FuseRankClientError.self) { try await refused.setItemsAvailable([top[0]], available: false) }
        #expect(denied?.code == .permissionDenied)
        refused.close()
        #expect(closed.terminate() == 0)
    }
}
