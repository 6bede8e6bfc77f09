/// out (rows, d) = LayerNorm(x (rows, d)) * w (d,) + b (d,), biased variance; `out` may be `x`.
func layerNorm(
    _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    rows: Int, d: Int, eps: Float
) {
    for r in 0..<rows {
        let xr = x + r * d
        let yr = out + r * d
        var sum: Float = 0
        for i in 0..<d { sum += xr[i] }
        let mean = sum / Float(d)
        var sq: Float = 0
        for i in 0..<d {
            let c = xr[i] - mean
            sq += c * c
        }
        let inv = 1 / (sq / Float(d) + eps).squareRoot()
        for i in 0..<d { yr[i] = (xr[i] - mean) * inv * w[i] + b[i] }
    }
}
