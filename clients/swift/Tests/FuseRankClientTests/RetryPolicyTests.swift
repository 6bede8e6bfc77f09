import Testing

@testable import FuseRankClient

@Suite struct RetryPolicyTests {
    @Test func backoffDoublesWithinJitterAndIsCapped() {
        let policy = RetryPolicy(retries: 5, initialBackoffMs: 50, maxBackoffMs: 300, multiplier: 2, jitter: 0.2)
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            #expect((40...60).contains(policy.backoffMs(beforeRetry: 1, using: &random)))
            #expect((80...120).contains(policy.backoffMs(beforeRetry: 2, using: &random)))
            #expect((160...240).contains(policy.backoffMs(beforeRetry: 3, using: &random)))
            #expect((240...360).contains(policy.backoffMs(beforeRetry: 4, using: &random)))  // capped at 300
            #expect((240...360).contains(policy.backoffMs(beforeRetry: 9, using: &random)))
        }
    }

    @Test func jitterSpreadsThePauses() {
        let policy = RetryPolicy(initialBackoffMs: 1000, maxBackoffMs: 1000, jitter: 0.5)
        var random = SystemRandomNumberGenerator()
        let pauses = Set((0..<50).map { _ in policy.backoffMs(beforeRetry: 1, using: &random) })
        #expect(pauses.count > 10)
        #expect(pauses.allSatisfy { (500...1500).contains($0) })
    }

    @Test func noJitterIsExact() {
        let policy = RetryPolicy(initialBackoffMs: 10, maxBackoffMs: 1000, multiplier: 3, jitter: 0)
        var random = SystemRandomNumberGenerator()
        #expect(policy.backoffMs(beforeRetry: 1, using: &random) == 10)
        #expect(policy.backoffMs(beforeRetry: 3, using: &random) == 90)
    }

    @Test func onlyUnavailableIsRetriedByDefault() {
        let policy = RetryPolicy()
        #expect(policy.shouldRetry(.unavailable))
        for code in StatusCode.allCases where code != .unavailable {
            #expect(!policy.shouldRetry(code))
        }
    }

    @Test func errorsCarryTheirCode() {
        #expect(FuseRankClientError.timedOut(attempts: 3, timeoutMs: 100).code == .deadlineExceeded)
        #expect(FuseRankClientError.closed.code == .unavailable)
        #expect(FuseRankClientError.cancelled.code == .cancelled)
        let status = FuseRankClientError.status(code: .notFound, message: "no model \"x\"", attempts: 1)
        #expect(status.code == .notFound)
        #expect(status.description == "NOT_FOUND: no model \"x\"")
        #expect(FuseRankClientError.timedOut(attempts: 3, timeoutMs: 100).description
            == "DEADLINE_EXCEEDED: no reply within 100 ms (3 attempts)")
    }
}
