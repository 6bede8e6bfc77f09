import ArgumentParser
import FuseRankTransport
import Logging

/// The options every long-running FuseRank process takes (`fuserank-server`, `fuserank-broker`):
/// ZeroMQ heartbeats on its connections and the log level. `@OptionGroup var process: ProcessOptions`
/// gives a command the flags `--heartbeat-ivl-ms`, `--heartbeat-timeout-ms`, `--heartbeat-ttl-ms`
/// and `--log-level`.
public struct ProcessOptions: ParsableArguments {
    @Option(help: "ZeroMQ heartbeat: a PING every this many ms on each connection; 0 turns heartbeats off.")
    public var heartbeatIvlMs = HeartbeatSettings().intervalMs

    @Option(help: "ZeroMQ heartbeat: drop a connection silent this many ms after a PING.")
    public var heartbeatTimeoutMs = HeartbeatSettings().timeoutMs

    @Option(help: "ZeroMQ heartbeat: peers drop us when they hear nothing for this many ms.")
    public var heartbeatTtlMs = HeartbeatSettings().ttlMs

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    public var logLevel: String = "info"

    public init() {}

    /// The heartbeat flags as settings (their own checks are `HeartbeatSettings.validationProblem`).
    public var heartbeat: HeartbeatSettings {
        HeartbeatSettings(intervalMs: heartbeatIvlMs, timeoutMs: heartbeatTimeoutMs, ttlMs: heartbeatTtlMs)
    }

    public func validate() throws {
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    /// Sends every logger of the process to standard error at `--log-level`; call once, first.
    public func bootstrapLogging() {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
