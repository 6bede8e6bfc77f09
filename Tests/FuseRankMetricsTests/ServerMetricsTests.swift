import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

@testable import FuseRankMetrics

/// The series named in docs/metrics.md come out of a real HTTP scrape with the recorded counts.
@Suite struct ServerMetricsTests {
    /// The value of one sample line `name{labels} value`, labels in the order written.
    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func forecastSeriesAndCompute() {
        let metrics = ServerMetrics()
        metrics.recordForecast(model: "demand", series: 1000, compute: .milliseconds(120))
        metrics.recordForecast(model: "demand", series: 3, compute: .microseconds(400))
        metrics.recordReply(method: "Forecast", model: "demand", code: "OK", duration: .milliseconds(121))
        let text = metrics.exposition()
        #expect(Self.sample(text, #"fuserank_forecast_series_total{model="demand"}"#) == 1003)
        #expect(Self.sample(text, #"fuserank_forecast_compute_duration_seconds_count{model="demand"}"#) == 2)
        #expect(Self.sample(text, #"fuserank_forecast_compute_duration_seconds_bucket{model="demand",le="0.0005"}"#) == 1)
        #expect(Self.sample(text, #"fuserank_requests_total{method="Forecast",model="demand",code="OK"}"#) == 1)
    }

    @Test func catalogueLogPositionsAndEveryScrapeHook() {
        let metrics = ServerMetrics()
        let scrapes = Locked(0)
        metrics.onScrape { scrapes.withLock { $0 += 1 } }
        metrics.onScrape {
            metrics.updateCatalogueLog([(model: "shop", applied: 7, length: 9)], connected: true, secondsSinceContact: 0.25)
        }
        let text = metrics.exposition()
        #expect(scrapes.withLock { $0 } == 1, "both hooks run before a scrape")
        #expect(Self.sample(text, #"fuserank_catalogue_log_applied{model="shop"}"#) == 7)
        #expect(Self.sample(text, #"fuserank_catalogue_log_length{model="shop"}"#) == 9)
        #expect(Self.sample(text, "fuserank_catalogue_log_connected") == 1)
        #expect(Self.sample(text, "fuserank_catalogue_log_seconds_since_contact") == 0.25)
    }

    @Test func countsAndHistograms() {
        let metrics = ServerMetrics()
        for _ in 0..<3 { metrics.recordReply(method: "Rank", model: "m", code: "OK", duration: .milliseconds(2)) }
        metrics.recordReply(method: "Rank", model: "m", code: "INVALID_ARGUMENT", duration: .microseconds(50))
        metrics.recordBatch(model: "m", size: 3, compute: .milliseconds(1))
        metrics.recordQueueWait(model: "m", duration: .microseconds(300))
        metrics.setQueueDepth(5)
        metrics.recordModelLoad(model: "m", version: "2", ok: true)
        metrics.recordModelLoad(model: "m", version: "3", ok: false)
        metrics.recordAuthFailure()
        let text = metrics.exposition()
        #expect(Self.sample(text, #"fuserank_requests_total{method="Rank",model="m",code="OK"}"#) == 3)
        #expect(Self.sample(text, #"fuserank_requests_total{method="Rank",model="m",code="INVALID_ARGUMENT"}"#) == 1)
        #expect(Self.sample(text, #"fuserank_request_duration_seconds_count{method="Rank",model="m"}"#) == 4)
        // 3 x 2 ms + 50 us, in seconds.
        let sum = Self.sample(text, #"fuserank_request_duration_seconds_sum{method="Rank",model="m"}"#) ?? -1
        #expect(abs(sum - 0.00605) < 1e-9)
        #expect(Self.sample(text, #"fuserank_request_duration_seconds_bucket{method="Rank",model="m",le="0.0001"}"#) == 1)
        #expect(Self.sample(text, #"fuserank_batch_size_bucket{model="m",le="2.0"}"#) == 0)
        #expect(Self.sample(text, #"fuserank_batch_size_bucket{model="m",le="4.0"}"#) == 1)
        #expect(Self.sample(text, #"fuserank_compute_duration_seconds_count{model="m"}"#) == 1)
        #expect(Self.sample(text, #"fuserank_queue_duration_seconds_count{model="m"}"#) == 1)
        #expect(Self.sample(text, "fuserank_queue_depth") == 5)
        #expect(Self.sample(text, #"fuserank_model_loads_total{model="m",version="2",result="ok"}"#) == 1)
        #expect(Self.sample(text, #"fuserank_model_loads_total{model="m",version="3",result="error"}"#) == 1)
        #expect(Self.sample(text, "fuserank_auth_failures_total") == 1)
        #expect((Self.sample(text, "process_resident_memory_bytes") ?? 0) > 1_000_000)
    }

    @Test func versionInfoFollowsTheServedVersion() {
        let metrics = ServerMetrics()
        metrics.setServedVersion(model: "m", version: "1")
        metrics.setServedVersion(model: "m", version: "2")
        var text = metrics.exposition()
        #expect(Self.sample(text, #"fuserank_model_version_info{model="m",version="2"}"#) == 1)
        #expect(!text.contains(#"version="1""#))
        metrics.setServedVersion(model: "m", version: nil)
        text = metrics.exposition()
        #expect(!text.contains("fuserank_model_version_info{"))
    }

    @Test func scrapeOverHTTP() async throws {
        let metrics = ServerMetrics()
        let endpoint = try await MetricsEndpoint.start(metrics: metrics, bind: "127.0.0.1:0")
        #expect(endpoint.port != 0)
        for _ in 0..<7 { metrics.recordReply(method: "Health", model: "", code: "OK", duration: .microseconds(10)) }
        let url = URL(string: "http://127.0.0.1:\(endpoint.port)/metrics")!
        let (data, response) = try await URLSession.shared.data(from: url)
        let http = try #require(response as? HTTPURLResponse)
        #expect(http.statusCode == 200)
        #expect((http.value(forHTTPHeaderField: "Content-Type") ?? "").hasPrefix("text/plain; version=0.0.4"))
        let text = String(decoding: data, as: UTF8.self)
        #expect(Self.sample(text, #"fuserank_requests_total{method="Health",model="",code="OK"}"#) == 7)
        let (_, missing) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(endpoint.port)/other")!)
        #expect((missing as? HTTPURLResponse)?.statusCode == 404)
        await endpoint.stop()
    }

    @Test func badAddressesAndBusyPort() async throws {
        #expect(MetricsEndpoint.parse("127.0.0.1:9100")! == ("127.0.0.1", 9100))
        #expect(MetricsEndpoint.parse("localhost:0")! == ("127.0.0.1", 0))
        #expect(MetricsEndpoint.parse("9100") == nil)
        #expect(MetricsEndpoint.parse("host.example:9100") == nil)
        #expect(MetricsEndpoint.parse("127.0.0.1:70000") == nil)
        let metrics = ServerMetrics()
        let first = try await MetricsEndpoint.start(metrics: metrics, bind: "127.0.0.1:0")
        await #expect(throws: MetricsEndpointError.self) {
            _ = try await MetricsEndpoint.start(metrics: metrics, bind: "127.0.0.1:\(first.port)")
        }
        await first.stop()
    }
}
