// The request path short of the socket, under libFuzzer: frames -> envelope split -> header and
// body decode -> validation -> queue -> ranking or forecasting -> reply, with every reply read back through a
// real DEALER peer and checked. `make fuzz` builds it with -sanitize=fuzzer,address and runs it;
// a plain build gives a replayer: `fuserank-fuzz FILE...` runs each file through the same path.
import Foundation
import FuseRankServer

nonisolated(unsafe) private var path: RequestPathHarness?

/// The golden `tiny` bundle, found from this file's path (or `$FUSERANK_FUZZ_BUNDLE`).
private let tinyBundle = ProcessInfo.processInfo.environment["FUSERANK_FUZZ_BUNDLE"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Tests/Fixtures/golden/tiny").standardized.path

/// The golden `forecaster` bundle beside it (or `$FUSERANK_FUZZ_FORECASTER`), when present: with
/// it, Forecast calls run the forecaster; without, they reach FAILED_PRECONDITION only.
private let forecasterBundle: String? = {
    let path = ProcessInfo.processInfo.environment["FUSERANK_FUZZ_FORECASTER"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Tests/Fixtures/golden/forecaster").standardized.path
    return FileManager.default.fileExists(atPath: path + "/forecaster.json") ? path : nil
}()

/// The libFuzzer entry point.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    if path == nil { path = try! RequestPathHarness(bundle: tinyBundle, forecaster: forecasterBundle) }
    path!.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if FUZZING
/// libFuzzer's driver (in the runtime that `-sanitize=fuzzer` links), called from our own `main`:
/// SwiftPM gives an executable its entry point, so libFuzzer's `main` is not used.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

@main
enum Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    }
}
#else
/// Without libFuzzer: replays each file named on the command line through the same path.
@main
enum Replay {
    static func main() {
        let files = CommandLine.arguments.dropFirst()
        if files.isEmpty {
            print("usage: fuserank-fuzz FILE...  (replays inputs; `make fuzz` runs libFuzzer)")
            return
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                print("cannot read \(file)")
                continue
            }
            _ = data.withUnsafeBytes { fuzzOneInput($0.bindMemory(to: UInt8.self).baseAddress!, data.count) }
            print("ok \(file)")
        }
    }
}
#endif
