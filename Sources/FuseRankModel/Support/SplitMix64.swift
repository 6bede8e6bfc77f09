import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny PRNG that Python reproduces in a few lines.
///
/// Used for the sampled evaluation protocol, whose draws are written down in docs/evaluation.md:
/// state starts at `(seed << 32) | user`; each draw adds 0x9E3779B97F4A7C15 and mixes.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The current state.
    public private(set) var state: UInt64

    /// Starts at `state`.
    public init(state: UInt64) { self.state = state }

    /// The stream of one (seed, user) pair of the sampled protocol.
    public init(seed: UInt64, user: UInt64) { self.state = (seed << 32) | user }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal draw (Box-Muller from two uniforms, the first in (0, 1], the second in
    /// [0, 1)): the random weights of synthetic bundles and forecasters.
    public mutating func nextNormal() -> Float {
        let u1 = (Double(next() >> 11) + 1) / 9007199254740993.0
        let u2 = Double(next() >> 11) / 9007199254740992.0
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// A draw in `0 ..< n` as `next() % n` (the documented rule; the modulo bias is below 2^-40 for n < 2^24).
    public mutating func below(_ n: UInt64) -> UInt64 {
        precondition(n > 0)
        return next() % n
    }
}
