import COpenBLAS
import Foundation

/// The OpenBLAS thread count of the process.
///
/// Debian's OpenBLAS is the pthread build: it serialises concurrent multithreaded GEMMs, so a
/// server with one worker per core wants 1 BLAS thread per worker. If the caller never calls
/// ``setThreads(_:)``, the library sets 1 the first time a ``Ranker`` is created.
public enum BLAS {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var configured = false  // guarded by `lock`

    /// Sets the OpenBLAS thread count for the process (at least 1).
    /// - Parameter n: the thread count; values below 1 are taken as 1.
    public static func setThreads(_ n: Int) {
        lock.lock()
        defer { lock.unlock() }
        openblas_set_num_threads(Int32(clamping: max(1, n)))
        configured = true
    }

    /// The OpenBLAS thread count in effect.
    public static var threads: Int {
        Int(openblas_get_num_threads())
    }

    /// The kernel family OpenBLAS chose for this CPU (e.g. "skylakex", "haswell", "prescott").
    public static var coreName: String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    /// The core types of OpenBLAS's fallbacks: what its DYNAMIC_ARCH build picks when it cannot
    /// name the CPU (a virtual machine that reports "Intel(R) Xeon(R) Processor" gets Prescott's
    /// SSE3 kernels on an AVX-512 core: the forecaster's 1,000-series request took 114 ms there
    /// and 38 ms with the SkylakeX kernels).
    static let fallbackCores: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom",
                                             "katmai", "coppermine", "northwood", "banias", "unknown"]

    /// The OpenBLAS core type the CPU's flags (Linux `/proc/cpuinfo`) support best: "SkylakeX"
    /// with AVX-512 F/BW/DQ/VL, "Haswell" with AVX2 and FMA, else nil.
    static func bestCoreType(cpuinfo: String) -> String? {
        guard let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(line.split(separator: " ").map(String.init))
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// OpenBLAS reads `OPENBLAS_CORETYPE` once, when it loads, so the kernels can only be chosen
    /// before the process starts. When it is unset and OpenBLAS fell back to an old core on a CPU
    /// with AVX2 or AVX-512, this re-executes the program (same arguments) with it set to the best
    /// core the CPU supports; otherwise it returns. An executable calls it first thing.
    /// `OPENBLAS_CORETYPE` set by the caller, to any value, is always kept.
    public static func reexecWithBestCoreTypeIfNeeded() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              fallbackCores.contains(coreName.lowercased()),
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let best = bestCoreType(cpuinfo: cpuinfo)
        else { return }
        FileHandle.standardError.write(Data(
            "OpenBLAS chose \(coreName) kernels on a CPU with \(best)'s instructions: restarting with OPENBLAS_CORETYPE=\(best)\n".utf8))
        setenv("OPENBLAS_CORETYPE", best, 1)
        let args = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        // execv returned: it failed; go on with the kernels loaded
        for p in argv { free(p) }
    }

    /// Applies the default of 1 thread unless the caller has chosen a count.
    static func applyDefault() {
        lock.lock()
        defer { lock.unlock() }
        guard !configured else { return }
        openblas_set_num_threads(1)
        configured = true
    }
}
