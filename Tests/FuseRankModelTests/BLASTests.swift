import Testing
@testable import FuseRankModel

/// The OpenBLAS core type an executable restarts with when OpenBLAS fell back to an old core.
struct BLASTests {
    @Test func bestCoreTypeFollowsTheCPUFlags() {
        let avx512 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl\n"
        #expect(BLAS.bestCoreType(cpuinfo: avx512) == "SkylakeX")
        #expect(BLAS.bestCoreType(cpuinfo: "flags\t\t: fpu sse2 avx avx2 fma\n") == "Haswell")
        #expect(BLAS.bestCoreType(cpuinfo: "flags\t\t: fpu sse2 avx avx512f\n") == nil)  // no AVX2+FMA, partial AVX-512
        #expect(BLAS.bestCoreType(cpuinfo: "processor\t: 0\n") == nil)
    }

    @Test func fallbackCoresAreTheOldOnes() {
        #expect(BLAS.fallbackCores.contains("prescott"))
        #expect(!BLAS.fallbackCores.contains("skylakex"))
        #expect(!BLAS.fallbackCores.contains("haswell"))
        #expect(!BLAS.coreName.isEmpty)
    }
}
