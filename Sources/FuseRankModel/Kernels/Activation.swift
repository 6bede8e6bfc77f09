#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// x (n,) = GELU(x), the exact form `0.5 * x * (1 + erf(x / sqrt(2)))`, in place.
func gelu(_ x: UnsafeMutablePointer<Float>, n: Int) {
    let invSqrt2: Float = 0.70710678118654752
    for i in 0..<n {
        let v = x[i]
        x[i] = 0.5 * v * (1 + erff(v * invSqrt2))
    }
}

/// x (n,) = softmax(x), in place (max subtracted first).
func softmax(_ x: UnsafeMutablePointer<Float>, n: Int) {
    guard n > 0 else { return }
    var m = x[0]
    for i in 1..<n where x[i] > m { m = x[i] }
    var sum: Float = 0
    for i in 0..<n {
        let e = expf(x[i] - m)
        x[i] = e
        sum += e
    }
    let inv = 1 / sum
    for i in 0..<n { x[i] *= inv }
}

/// out (n,) += a (n,).
func addInPlace(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, n: Int) {
    for i in 0..<n { out[i] += a[i] }
}
