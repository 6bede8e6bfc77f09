#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// x (n,) = GELU(x), the exact form `0.5 * x * (1 + erf(x / sqrt(2)))`, in place.
///
/// `erf` is ``erfApprox(_:)`` (absolute error below 5e-7), branch-free so the loop vectorizes:
/// libm's scalar `erff` was a quarter of a batch-1 forward (BENCHMARKS.md).
func gelu(_ x: UnsafeMutablePointer<Float>, n: Int) {
    let invSqrt2: Float = 0.70710678118654752
    for i in 0..<n {
        let v = x[i]
        x[i] = 0.5 * v * (1 + erfApprox(v * invSqrt2))
    }
}

/// erf(x), absolute error below 5e-7 (1.5e-7 from the formula, the rest float32 rounding):
/// Abramowitz and Stegun, Handbook of Mathematical Functions (1964), formula 7.1.26,
/// `1 - (a1 t + ... + a5 t^5) e^(-x^2)` with `t = 1 / (1 + p |x|)`, and erf(-x) = -erf(x).
@inline(__always)
func erfApprox(_ x: Float) -> Float {
    let a = Swift.abs(x)
    let t = 1 / (1 + 0.327_591_1 * a)
    var p: Float = 1.061_405_429
    p = p * t - 1.453_152_027
    p = p * t + 1.421_413_741
    p = p * t - 0.284_496_736
    p = p * t + 0.254_829_592
    let y = 1 - p * t * expApprox(-a * a)
    return Float(signOf: x, magnitudeOf: y)
}

/// x (n,) = softmax(x), in place (max subtracted first).
///
/// The exponentials use ``expApprox(_:)`` (relative error below 4e-7) so the loop vectorizes;
/// the sum runs in 8 interleaved partial sums.
func softmax(_ x: UnsafeMutablePointer<Float>, n: Int) {
    guard n > 0 else { return }
    let inv = 1 / exponentiate(x, n: n)
    for i in 0..<n { x[i] *= inv }
}

/// x (n,) = exp(x - max(x)), in place; returns the sum: softmax before its division, for a caller
/// that divides something shorter instead (attention divides each head's output row, `d_head`
/// floats, not the `n` weights). The sum runs in 8 interleaved partial sums.
func exponentiate(_ x: UnsafeMutablePointer<Float>, n: Int) -> Float {
    precondition(n > 0)
    var m = x[0]
    for i in 1..<n where x[i] > m { m = x[i] }
    for i in 0..<n { x[i] = expApprox(x[i] - m) }
    var partial = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
    var i = 0
    while i + 8 <= n {
        partial.0 += x[i]; partial.1 += x[i + 1]; partial.2 += x[i + 2]; partial.3 += x[i + 3]
        partial.4 += x[i + 4]; partial.5 += x[i + 5]; partial.6 += x[i + 6]; partial.7 += x[i + 7]
        i += 8
    }
    var sum = ((partial.0 + partial.1) + (partial.2 + partial.3)) + ((partial.4 + partial.5) + (partial.6 + partial.7))
    while i < n { sum += x[i]; i += 1 }
    return sum
}

/// exp(x) for x in [-87, 88] (clamped outside), relative error below 4e-7: branch-free, so loops vectorize.
///
/// Cephes' `expf` scheme: n = round(x / ln 2) by the 1.5 * 2^23 trick, r = x - n ln 2 in two
/// parts, a degree-5 polynomial for e^r, then 2^n built in the exponent bits.
@inline(__always)
func expApprox(_ x: Float) -> Float {
    let xc = Swift.min(Swift.max(x, -87), 88)
    let t = xc * 1.442_695_04 + 12_582_912  // 1.5 * 2^23: round(x / ln 2) lands in the low mantissa bits
    let n = t - 12_582_912
    let r = (xc - n * 0.693_359_375) + n * 2.121_944_4e-4  // ln 2 = 0.693359375 - 2.12194440e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    let y = p * r * r + r + 1
    let scale = Float(bitPattern: (t.bitPattern &- 0x4B40_0000 &+ 127) << 23)  // 2^n
    return y * scale
}

/// out (n,) += a (n,).
func addInPlace(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, n: Int) {
    for i in 0..<n { out[i] += a[i] }
}
