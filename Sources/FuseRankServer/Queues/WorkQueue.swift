import Foundation

/// What a worker takes from the ``WorkQueue`` at once.
package enum Work: Sendable {
    /// Rank jobs of one model, ranked in one batched forward pass.
    case rank([RankJob])
    /// One Forecast job (its series are one batch already).
    case forecast(ForecastJob)
}

/// The bounded queue of jobs between the front thread and the workers.
///
/// The front thread pushes; each worker takes the oldest job: a Forecast job alone, a Rank job
/// with up to `maxBatch - 1` more Rank jobs for the same model that are already waiting (it never
/// waits to fill a batch).
// @unchecked Sendable: every stored property is read and written only while `condition` is locked.
package final class WorkQueue: @unchecked Sendable {
    /// One queued job.
    private enum Job {
        case rank(RankJob)
        case forecast(ForecastJob)
    }

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var closed = false
    /// The most jobs waiting at once.
    let capacity: Int

    /// An empty open queue.
    /// - Parameter capacity: the most jobs waiting at once (at least 1).
    package init(capacity: Int) {
        self.capacity = max(1, capacity)
        jobs.reserveCapacity(self.capacity)
    }

    /// Adds a Rank job unless the queue is full or closed.
    /// - Parameter job: the job.
    /// - Returns: false when the job was not queued.
    func push(_ job: RankJob) -> Bool { push(.rank(job)) }

    /// Adds a Forecast job unless the queue is full or closed.
    /// - Parameter job: the job.
    /// - Returns: false when the job was not queued.
    func push(_ job: ForecastJob) -> Bool { push(.forecast(job)) }

    private func push(_ job: Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed, jobs.count < capacity else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Waits for work and takes the oldest job: a Forecast job alone, or a batch of Rank jobs for
    /// one model, oldest first.
    /// - Parameter maxBatch: the most Rank jobs to take.
    /// - Returns: the work, or nil once the queue is closed and empty.
    package func take(maxBatch: Int) -> Work? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !closed { condition.wait() }
        guard !jobs.isEmpty else { return nil }
        defer {
            // Another worker may take what is left.
            if !jobs.isEmpty { condition.signal() }
        }
        switch jobs[0] {
        case let .forecast(job):
            jobs.removeFirst()
            return .forecast(job)
        case let .rank(first):
            let model = first.bundle
            var batch: [RankJob] = []
            var rest: [Job] = []
            rest.reserveCapacity(jobs.count)
            for job in jobs {
                if case let .rank(rank) = job, batch.count < maxBatch, rank.bundle === model {
                    batch.append(rank)
                } else {
                    rest.append(job)
                }
            }
            jobs = rest
            return .rank(batch)
        }
    }

    /// Waits for work and takes a batch of Rank jobs for one model, oldest first: ``take(maxBatch:)``
    /// for a queue that holds Rank jobs only (the tests and the fuzzer's inline ranking).
    /// - Parameter maxBatch: the most jobs to take.
    /// - Returns: 1 ... maxBatch jobs of one model, or nil once the queue is closed and empty
    ///   (or its oldest job is a Forecast job, which is then taken and dropped).
    func takeBatch(maxBatch: Int) -> [RankJob]? {
        guard case let .rank(batch) = take(maxBatch: maxBatch) else { return nil }
        return batch
    }

    /// Jobs waiting now.
    package var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count
    }

    /// Refuses new jobs; workers finish what is queued, then ``take(maxBatch:)`` returns nil.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
